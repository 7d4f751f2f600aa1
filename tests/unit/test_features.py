"""Log-mel: the fast path must equal librosa's reference computation the training data was built with."""

import numpy as np
import pytest

from piano_ai.constants import HOP_LENGTH, MEL_FMAX, MEL_FMIN, N_FFT, N_MELS, SAMPLE_RATE
from piano_ai.features import BLOCK_FRAMES, LOG_FLOOR, LogMelStream, frame_count, log_mel


def _librosa_log_mel(audio: np.ndarray) -> np.ndarray:
    import librosa

    mel = librosa.feature.melspectrogram(
        y=audio,
        sr=SAMPLE_RATE,
        n_fft=N_FFT,
        hop_length=HOP_LENGTH,
        n_mels=N_MELS,
        fmin=MEL_FMIN,
        fmax=MEL_FMAX,
        center=True,
        pad_mode="constant",
        power=2.0,
    )
    return np.log(np.maximum(mel, LOG_FLOOR)).T


@pytest.mark.parametrize("samples", [1, HOP_LENGTH, 16_000, 16_000 * 3 + 123, 16_000 * 140])
def test_equals_librosa(samples: int) -> None:
    t = np.arange(samples) / SAMPLE_RATE
    audio = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.01 * np.random.default_rng(0).normal(size=samples)).astype(
        np.float32
    )
    ours = log_mel(audio)
    assert ours.shape == (frame_count(samples), N_MELS) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, _librosa_log_mel(audio), atol=2e-3)


def test_a440_lands_in_the_right_band() -> None:
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    mel = log_mel((0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32))
    import librosa

    centres = librosa.mel_frequencies(n_mels=N_MELS + 2, fmin=MEL_FMIN, fmax=MEL_FMAX)[1:-1]
    assert abs(centres[mel[10].argmax()] - 440) < 40


def test_rejects_stereo() -> None:
    with pytest.raises(ValueError, match="mono"):
        log_mel(np.zeros((100, 2), np.float32))


@pytest.mark.parametrize("samples", [0, 1, HOP_LENGTH, 16_000 * 3 + 123, 4096 * HOP_LENGTH, 16_000 * 140 + 7])
@pytest.mark.parametrize("block", [1000, 16_000 * 8])
def test_log_mel_stream_equals_log_mel_to_the_bit(samples: int, block: int) -> None:
    audio = np.random.default_rng(samples).normal(0, 0.1, samples).astype(np.float32)
    stream = LogMelStream()
    parts = [mel for i in range(0, samples, block) for mel in stream.push(audio[i : i + block])]
    parts += stream.finish()
    assert all(len(part) <= BLOCK_FRAMES for part in parts)
    np.testing.assert_array_equal(np.concatenate(parts), log_mel(audio))
