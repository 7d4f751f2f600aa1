"""Losses: weighted BCE favours positives as told; velocity loss sees only onset cells."""

import numpy as np
import pytest

from piano_ai.training.losses import masked_bce, masked_velocity_mse, weighted_bce


def _value(x) -> float:  # noqa: ANN001
    return float(np.asarray(x))


def test_weighted_bce_equals_plain_bce_at_weight_one() -> None:
    y = np.array([[1.0, 0.0, 1.0, 0.0]], np.float32)
    p = np.array([[0.9, 0.2, 0.4, 0.7]], np.float32)
    expected = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert _value(weighted_bce(1.0)(y, p)) == pytest.approx(expected, rel=1e-5)


def test_weighted_bce_scales_only_positive_terms() -> None:
    y = np.array([[1.0, 0.0]], np.float32)
    p = np.array([[0.5, 0.5]], np.float32)
    one, eight = _value(weighted_bce(1.0)(y, p)), _value(weighted_bce(8.0)(y, p))
    assert eight == pytest.approx((8 * np.log(2) + np.log(2)) / 2, rel=1e-5)
    assert eight > one


def test_velocity_loss_ignores_cells_without_onset() -> None:
    y = np.array([[-1.0, 0.5, -1.0]], np.float32)
    good = np.array([[0.0, 0.5, 1.0]], np.float32)  # wrong where masked, right at the onset
    bad = np.array([[0.5, 0.0, 0.5]], np.float32)
    assert _value(masked_velocity_mse(y, good)) == pytest.approx(0.0, abs=1e-7)
    assert _value(masked_velocity_mse(y, bad)) == pytest.approx(0.25 / 2, rel=1e-5)


def test_masked_bce_skips_unlabelled_cells() -> None:
    y = np.array([[[1.0], [0.0], [-1.0]]], np.float32)
    p = np.array([[[0.9], [0.2], [0.99]]], np.float32)
    expected = -(np.log(0.9) + np.log(0.8)) / (2 + 1)  # sum over labelled cells / (count + 1)
    assert _value(masked_bce(y, p)) == pytest.approx(expected, rel=1e-5)
    all_masked = np.full_like(y, -1.0)
    assert _value(masked_bce(all_masked, p)) == pytest.approx(0.0, abs=1e-7)
