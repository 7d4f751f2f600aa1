"""Log-mel spectrogram: the model's input representation.

Equal (to ~1e-5) to librosa.feature.melspectrogram(center=True, pad_mode="constant", power=2) followed by
log, but computed in float32 with scipy's FFT in blocks, which is ~4x faster and bounds memory.
"""

from functools import lru_cache

import numpy as np
import numpy.typing as npt

from piano_ai.constants import HOP_LENGTH, MEL_FMAX, MEL_FMIN, N_FFT, N_MELS, SAMPLE_RATE
from piano_ai.types import FloatArray

LOG_FLOOR = 1e-5  # power floor before log, ~ -100 dB: keeps silence finite
BLOCK_FRAMES = 4096  # frames transformed at once: bounds the complex spectrum's memory (~34 MB)


@lru_cache(maxsize=1)
def mel_basis() -> FloatArray:
    """(N_FFT // 2 + 1, N_MELS) float32: power spectrum bins to mel bands (Slaney-normalised, as librosa)."""
    import librosa

    basis = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=MEL_FMIN, fmax=MEL_FMAX)
    return np.ascontiguousarray(basis.T, dtype=np.float32)


@lru_cache(maxsize=1)
def _window() -> FloatArray:
    import scipy.signal

    return scipy.signal.get_window("hann", N_FFT, fftbins=True).astype(np.float32)


def log_mel(audio: FloatArray) -> FloatArray:
    """Log-mel power spectrogram of mono audio at SAMPLE_RATE.

    audio: (samples,) float32. Returns (frames, N_MELS) float32 with
    frames = samples // HOP_LENGTH + 1 (centred frames: frame t is centred on sample t * HOP_LENGTH).
    """
    import scipy.fft

    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"audio must be mono (samples,), got shape {audio.shape}")
    padded = np.pad(audio, N_FFT // 2)
    n_frames = frame_count(len(audio))
    step = padded.strides[0]
    frames: npt.NDArray[np.float32] = np.lib.stride_tricks.as_strided(
        padded, (n_frames, N_FFT), (step * HOP_LENGTH, step), writeable=False
    )
    out = np.empty((n_frames, N_MELS), np.float32)
    window, basis = _window(), mel_basis()
    for first in range(0, n_frames, BLOCK_FRAMES):
        spectrum = scipy.fft.rfft(frames[first : first + BLOCK_FRAMES] * window, axis=1, workers=-1)
        power = spectrum.real**2 + spectrum.imag**2  # (block, N_FFT // 2 + 1)
        np.log(np.maximum(power @ basis, LOG_FLOOR), out=out[first : first + BLOCK_FRAMES])
    return out


def frame_count(samples: int) -> int:
    """Frames log_mel returns for a signal of ``samples`` samples."""
    return samples // HOP_LENGTH + 1
