"""piano_ai.velocities: a network gives each note's velocity from the heads and levels around its onset."""

from pathlib import Path

import numpy as np
import pytest

from piano_ai.constants import LOWEST_KEY, N_KEYS
from piano_ai.mlp import Mlp, fit_regressor
from piano_ai.note_nets import NoteNets, nets_for, shipped_nets
from piano_ai.notes import notes_from_activations
from piano_ai.onsets import onset_peaks
from piano_ai.types import Activations, NoteParams
from piano_ai.velocities import (
    CONTEXT_AFTER,
    CONTEXT_BEFORE,
    FEATURES,
    NET_FILE,
    note_velocities,
    shipped_net,
    velocity_features,
)

KEY = 39


def level_reader(weight: float = 1.0, bias: float = 0.0) -> Mlp:
    """A linear network: weight * level[t+1] + bias."""
    n = len(FEATURES)
    w = np.zeros((n, 1))
    w[FEATURES.index("level[t+1]"), 0] = weight
    return Mlp(np.zeros(n), np.ones(n), (w,), (np.array([bias]),))


def struck(level_after: float) -> Activations:
    onset = np.zeros((40, N_KEYS), np.float32)
    onset[10, KEY] = 0.95
    frame = np.zeros_like(onset)
    frame[10:30, KEY] = 0.9
    velocity = np.full_like(onset, 0.3)
    level = np.full_like(onset, 0.1)
    level[11:, KEY] = level_after
    return Activations(onset, frame, np.zeros_like(onset), velocity, level=level)


def test_the_network_sets_the_velocity_where_levels_are_at_hand() -> None:
    nets = NoteNets(
        *(getattr(shipped_nets(), f) for f in ("onsets", "ends", "sustain", "onsets_level")), level_reader()
    )
    loud, soft = (notes_from_activations(struck(v), NoteParams(), nets) for v in (0.9, 0.4))
    assert [n.pitch for n in loud] == [LOWEST_KEY + KEY] == [n.pitch for n in soft]
    assert (loud[0].velocity, soft[0].velocity) == (round(127 * 0.9), round(127 * 0.4))
    no_levels = struck(0.9)
    no_levels = Activations(no_levels.onset, no_levels.frame, no_levels.offset, no_levels.velocity)
    assert notes_from_activations(no_levels, NoteParams(), nets)[0].velocity == round(127 * 0.3)  # the head


def test_velocities_stay_midi_velocities() -> None:
    act = struck(0.9)
    times, keys = np.array([10]), np.array([KEY])
    for bias, want in ((5.0, 127), (-5.0, 1)):
        got = note_velocities(
            act.onset, act.frame, act.velocity, act.level, times, keys, level_reader(bias=bias)
        )
        assert got.tolist() == [want]
    empty = np.zeros(0, np.int64)
    assert (
        note_velocities(act.onset, act.frame, act.velocity, act.level, empty, empty, level_reader()).size == 0
    )


def test_a_notes_features_read_only_its_context() -> None:
    rng = np.random.default_rng(5)
    onset, frame, velocity, level = (rng.random((300, N_KEYS)).astype(np.float32) ** 3 for _ in range(4))
    times, keys = np.nonzero(onset_peaks(onset, 0.2))
    whole = velocity_features(onset, frame, velocity, level, times, keys)
    assert whole.shape == (times.size, len(FEATURES))
    first, last = 100, 200
    inside = (times >= first + CONTEXT_BEFORE) & (times < last - CONTEXT_AFTER)
    cut = [a[first:last] for a in (onset, frame, velocity, level)]
    part = velocity_features(*cut, times[inside] - first, keys[inside])
    np.testing.assert_array_equal(part, whole[inside])


def test_the_regressor_is_scikit_learns() -> None:
    from sklearn.neural_network import MLPRegressor

    rng = np.random.default_rng(0)
    x = rng.random((5000, 4)).astype(np.float32)
    y = 0.5 * x[:, 0] + 0.2 * x[:, 3]
    net = fit_regressor(x, y, (8,), seed=0)
    assert np.mean((net.output(x) - y) ** 2) < 0.1 * np.var(y)
    mlp = MLPRegressor(hidden_layer_sizes=(8,), random_state=0, max_iter=50).fit(x, y)
    same = Mlp(np.zeros(4), np.ones(4), tuple(mlp.coefs_), tuple(mlp.intercepts_))
    np.testing.assert_allclose(same.output(x), mlp.predict(x), atol=1e-6)


def test_the_shipped_network_reads_these_features(tmp_path: Path) -> None:
    assert Mlp.load(NET_FILE, len(FEATURES)) is not None and shipped_nets().velocities is shipped_net()
    with pytest.raises(ValueError, match="features"):
        Mlp.load(NET_FILE, len(FEATURES) + 1)
    shipped_nets().onsets.save(tmp_path / "onsets.npz")  # decoding networks of its own, none for velocities
    assert nets_for(tmp_path).velocities is None
    level_reader().save(tmp_path / "velocities.npz")
    nets_for.cache_clear()
    assert nets_for(tmp_path).velocities is not None
    nets_for.cache_clear()
