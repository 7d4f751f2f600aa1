"""The mel scale (Slaney's, as librosa's default) and its triangular filter bank, in numpy.

librosa computes the same thing, but importing it loads numba and LLVM (~180 MB of memory in every process
that makes features); these few lines are that computation, equal to librosa.filters.mel to float rounding.
"""

import numpy as np
import numpy.typing as npt

F_SP = 200.0 / 3  # Hz per mel below BREAK_HZ (the linear part of the scale)
BREAK_HZ = 1000.0  # Hz where the scale turns logarithmic
BREAK_MEL = BREAK_HZ / F_SP  # mel at BREAK_HZ (15)
LOG_STEP = np.log(6.4) / 27.0  # natural-log Hz per mel above BREAK_HZ

Float64Array = npt.NDArray[np.float64]


def hz_to_mel(hz: npt.ArrayLike) -> Float64Array:
    """Frequencies in Hz (any shape) to mel, Slaney's scale: linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    above = hz >= BREAK_HZ
    log_part = BREAK_MEL + np.log(np.where(above, hz, BREAK_HZ) / BREAK_HZ) / LOG_STEP
    return np.where(above, log_part, hz / F_SP)


def mel_to_hz(mel: npt.ArrayLike) -> Float64Array:
    """Mel (any shape) to Hz: the inverse of hz_to_mel."""
    mel = np.asarray(mel, dtype=np.float64)
    above = mel >= BREAK_MEL
    return np.where(above, BREAK_HZ * np.exp(LOG_STEP * (mel - BREAK_MEL)), F_SP * mel)


def mel_frequencies(n_mels: int, fmin: float, fmax: float) -> Float64Array:
    """(n_mels,) Hz: centre frequencies evenly spaced in mel from fmin to fmax, both included."""
    return mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels))


def mel_filters(
    sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float, dtype: type[np.floating] = np.float64
) -> npt.NDArray[np.floating]:
    """(n_mels, n_fft // 2 + 1) weights from FFT bins to mel bands: triangles, Slaney area-normalised.

    Band i rises from edge i to its peak at edge i + 1 and falls to edge i + 2, the n_mels + 2 edges evenly
    spaced in mel; each band is scaled by 2 / its width in Hz so that bands carry about equal energy.
    dtype: the result's; the triangles are rounded to it before scaling, as librosa does, so float32 is
    librosa's float32 bank to the bit.
    """
    bins_hz = np.fft.rfftfreq(n_fft, d=1.0 / sample_rate)  # (n_fft // 2 + 1,)
    edges = mel_frequencies(n_mels + 2, fmin, fmax)  # (n_mels + 2,)
    widths = np.diff(edges)  # (n_mels + 1,)
    ramps = np.subtract.outer(edges, bins_hz)  # (n_mels + 2, bins): edge minus bin frequency
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling)).astype(dtype)
    return (weights * (2.0 / (edges[2:] - edges[:-2]))[:, None]).astype(dtype)
