"""Training windows: padding, velocity masking and deterministic sampling."""

import numpy as np

from piano_ai.constants import N_KEYS, N_MELS
from piano_ai.training.dataset import MEL_PAD, Clip, batches_random, fixed_windows, window


def _clip(frames: int) -> Clip:
    onset = np.zeros((frames, N_KEYS), np.uint8)
    onset[2, 10] = 1
    velocity = onset * 127
    mel = np.ones((frames, N_MELS), np.float16)
    return Clip(mel, onset, onset.copy(), onset.copy(), velocity.astype(np.uint8))


def test_window_pads_with_silence_and_masks_velocity() -> None:
    mel, targets = window(_clip(5), 0, 8)
    assert mel.shape == (8, N_MELS) and (mel[5:] == MEL_PAD).all() and (mel[:5] == 1).all()
    assert targets["velocity"][2, 10] == 1.0
    assert (targets["velocity"] == -1).sum() == 8 * N_KEYS - 1
    assert targets["onset"].sum() == 1


def test_random_batches_are_reproducible() -> None:
    clips = [_clip(50), _clip(300)]
    a = batches_random(clips, 64, 4, np.random.default_rng([1, 2]))
    b = batches_random(clips, 64, 4, np.random.default_rng([1, 2]))
    assert a[0].shape == (4, 64, N_MELS)
    np.testing.assert_array_equal(a[0], b[0])


def test_fixed_windows_cover_each_clip() -> None:
    assert len(fixed_windows([_clip(100), _clip(10)], 64)) == 3
