"""piano_ai.levels: the log-mel at each key's fundamental, mapped to 0..1."""

import numpy as np

from piano_ai.constants import LOWEST_KEY, N_KEYS, N_MELS, SAMPLE_RATE
from piano_ai.features import log_mel
from piano_ai.levels import HIGH, LOW, key_bands, key_levels


def test_the_bands_rise_with_the_keys_and_stay_in_the_mel() -> None:
    bands = key_bands()
    assert bands.shape == (N_KEYS,)
    assert np.all(np.diff(bands) >= 0) and bands[-1] > bands[0]
    assert 0 <= bands.min() and bands.max() < N_MELS
    assert len(np.unique(bands[-50:])) == 50  # from about C4 up every key has a band of its own


def test_a_tone_is_loudest_at_its_own_key() -> None:
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    for pitch in (45, 60, 69, 84):  # A2, C4, A4, C6
        hz = 440.0 * 2 ** ((pitch - 69) / 12)
        levels = key_levels(log_mel((0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)))
        middle = levels[10:-10]
        assert np.all(middle[:, pitch - LOWEST_KEY] == middle.max(axis=1)), pitch  # low keys share a band
        assert np.all(middle[:, pitch - LOWEST_KEY + 12] < middle[:, pitch - LOWEST_KEY] - 0.1), pitch


def test_the_range_maps_to_zero_and_one_and_each_frame_stands_alone() -> None:
    mel = np.full((4, N_MELS), LOW, np.float32)
    mel[1] = HIGH
    mel[2] = (LOW + HIGH) / 2
    mel[3] = HIGH + 5  # louder than HIGH: clipped
    levels = key_levels(mel)
    assert levels.dtype == np.float32 and levels.shape == (4, N_KEYS)
    np.testing.assert_allclose(levels[:, 0], [0.0, 1.0, 0.5, 1.0], atol=1e-6)
    np.testing.assert_array_equal(key_levels(mel[2:3]), levels[2:3])
