"""The sustain network's training samples: every other frame, the frames next to a press or a lift again."""

import numpy as np
import pytest

from piano_ai.constants import N_KEYS
from piano_ai.sustain import FEATURES
from piano_ai.training.sustain_net import EDGE_COPIES, EDGE_SAMPLES, STRIDE, samples
from piano_ai.types import Activations


def outputs(frames: int, pedal: bool = True) -> Activations:
    heads = {h: np.zeros((frames, N_KEYS), np.float32) for h in ("onset", "frame", "offset", "velocity")}
    p = np.linspace(0, 1, frames, dtype=np.float32) if pedal else None
    return Activations(**heads, pedal=p)


def test_every_other_frame_is_a_sample_and_the_edges_count_more() -> None:
    down = np.zeros(100, bool)
    down[40:70] = True  # press at frame 40 (sample 20), lift at frame 70 (sample 35)
    x, y = samples(outputs(100), down)
    plain = 100 // STRIDE
    edges = 2 * (2 * EDGE_SAMPLES + 1)  # samples 16..24 and 31..39
    assert x.shape == (plain + EDGE_COPIES * edges, len(FEATURES))
    assert y[:plain].tolist() == down[::STRIDE].astype(int).tolist()
    pedal_now = x[:, FEATURES.index("pedal[t+0]")]
    assert np.array_equal(pedal_now[:plain], np.linspace(0, 1, 100, dtype=np.float32)[::STRIDE])
    copied = sorted(set(np.round(pedal_now[plain:] * 99).astype(int).tolist()))
    assert copied == list(range(32, 49, 2)) + list(range(62, 79, 2))  # the frames of those samples
    assert y[plain:].sum() == EDGE_COPIES * 9  # samples 20..24 and 31..34 are down


def test_a_recording_without_pedal_changes_has_no_extra_samples() -> None:
    x, y = samples(outputs(60), np.ones(60, bool))
    assert len(y) == 30 and y.all()


def test_a_model_without_a_pedal_head_cannot_train_one() -> None:
    with pytest.raises(ValueError, match="no pedal head"):
        samples(outputs(60, pedal=False), np.zeros(60, bool))
