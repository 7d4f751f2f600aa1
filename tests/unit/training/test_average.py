"""Averaging a run's epochs: every float weight is the mean of the epochs' weights."""

import numpy as np
import pytest

from piano_ai.model import ModelConfig, build_model
from piano_ai.training.average import averaged_weights
from piano_ai.training.fit import EPOCHS_DIR, epoch_weights_name

SMALL = ModelConfig(conv_channels=(4, 4, 4), dense_units=8, lstm_units=4)


def _run_with_epochs(run_dir, count):
    SMALL.save(run_dir / "config.json")
    model = build_model(SMALL)
    model(np.zeros((1, 16, SMALL.n_mels), np.float32))
    rng = np.random.default_rng(0)
    saved = []
    for epoch in range(count):
        weights = [rng.normal(size=w.shape).astype(w.dtype) for w in model.get_weights()]
        model.set_weights(weights)
        (run_dir / EPOCHS_DIR).mkdir(exist_ok=True)
        model.save_weights(run_dir / EPOCHS_DIR / epoch_weights_name(epoch))
        saved.append(weights)
    return model, saved


def test_the_mean_of_the_chosen_epochs(tmp_path):
    model, saved = _run_with_epochs(tmp_path, 3)
    out = averaged_weights(tmp_path, [1, 2], tmp_path / "mean.weights.h5")
    model.load_weights(out)
    for got, one, two in zip(model.get_weights(), saved[1], saved[2], strict=True):
        np.testing.assert_allclose(got, (one + two) / 2, rtol=1e-6, atol=1e-6)


def test_one_epoch_is_that_epoch(tmp_path):
    model, saved = _run_with_epochs(tmp_path, 2)
    model.load_weights(averaged_weights(tmp_path, [0], tmp_path / "one.weights.h5"))
    for got, want in zip(model.get_weights(), saved[0], strict=True):
        np.testing.assert_array_equal(got, want)


def test_a_missing_epoch_is_named(tmp_path):
    _run_with_epochs(tmp_path, 1)
    with pytest.raises(FileNotFoundError, match="epoch 4"):
        averaged_weights(tmp_path, [0, 4], tmp_path / "x.weights.h5")
