"""Log-mel spectrogram: the model's input representation.

Equal (to ~1e-5) to librosa.feature.melspectrogram(center=True, pad_mode="constant", power=2) followed by
log, but computed in float32 with ducc0's FFT (pocketfft's successor; it imports in 3 ms where scipy.fft
took 0.16 s of every conversion's start-up) in blocks, which is ~4x faster and bounds memory; the mel
filter bank is piano_ai.mel's (librosa's, without importing librosa).
"""

from collections.abc import Callable
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from piano_ai.constants import HOP_LENGTH, MEL_FMAX, MEL_FMIN, N_FFT, N_MELS, SAMPLE_RATE
from piano_ai.mel import mel_filters
from piano_ai.types import FloatArray

LOG_FLOOR = 1e-5  # power floor before log, ~ -100 dB: keeps silence finite
# Frames transformed at once (16 s): bounds the complex spectrum's memory (~4 MB). Smaller blocks reach the
# model sooner: `python scripts/bench.py --format mp3` ran at 459-466x real time with 512, 412-422x with
# 4096, and peaked at 305 against 389-394 MB (docs/benchmarks.md, "Threads").
BLOCK_FRAMES = 512


@lru_cache(maxsize=1)
def mel_basis() -> FloatArray:
    """(N_FFT // 2 + 1, N_MELS) float32: power spectrum bins to mel bands (Slaney-normalised, as librosa)."""
    basis = mel_filters(SAMPLE_RATE, N_FFT, N_MELS, MEL_FMIN, MEL_FMAX, np.float32)
    return np.ascontiguousarray(basis.T)


BAND_GROUPS = 32  # neighbouring mel bands multiplied together (piano_ai.features._band_groups)


@lru_cache(maxsize=1)
def _band_groups() -> list[tuple[slice, slice, FloatArray]]:
    """mel_basis() cut into BAND_GROUPS blocks of neighbouring bands: (bands, bins, weights), where
    weights (bands, bins) covers every bin any of the bands weighs. Each band covers a few neighbouring
    bins (2,025 weights of 234,725), so the blocks hold 8,316 weights: a 512-frame block's product took
    0.15 ms against 1.3 ms dense, with numpy alone (scipy.sparse cost a conversion 0.1 s of imports)."""
    rows = mel_basis().T  # (N_MELS, bins)
    covered = [np.flatnonzero(row) for row in rows]
    edges = np.linspace(0, N_MELS, BAND_GROUPS + 1).astype(int)
    groups = []
    for first, end in zip(edges[:-1], edges[1:], strict=True):
        lo = min(int(covered[band][0]) for band in range(first, end))
        hi = max(int(covered[band][-1]) for band in range(first, end)) + 1
        groups.append((slice(first, end), slice(lo, hi), np.ascontiguousarray(rows[first:end, lo:hi])))
    return groups


@lru_cache(maxsize=1)
def _window() -> FloatArray:
    """The periodic Hann window of librosa's STFT (scipy.signal.get_window("hann", N_FFT, fftbins=True)),
    made with numpy: importing scipy.signal cost a conversion about a second of start-up."""
    return np.hanning(N_FFT + 1)[:-1].astype(np.float32)


def log_mel(audio: FloatArray) -> FloatArray:
    """Log-mel power spectrogram of mono audio at SAMPLE_RATE.

    audio: (samples,) float32. Returns (frames, N_MELS) float32 with
    frames = samples // HOP_LENGTH + 1 (centred frames: frame t is centred on sample t * HOP_LENGTH).
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"audio must be mono (samples,), got shape {audio.shape}")
    padded = np.pad(audio, N_FFT // 2)
    n_frames = frame_count(len(audio))
    out = np.empty((n_frames, N_MELS), np.float32)
    for first in range(0, n_frames, BLOCK_FRAMES):
        count = min(BLOCK_FRAMES, n_frames - first)
        _transform(padded[first * HOP_LENGTH :], count, out[first : first + count])
    return out


class LogMelStream:
    """log_mel of audio that arrives in blocks, BLOCK_FRAMES frames at a time, in memory that does not grow.

    push() each block of samples in order and take the frames it completes; finish() returns the rest.
    The frames, joined, equal log_mel of the joined audio (computed in the same blocks, so to the bit).
    """

    def __init__(self) -> None:
        self._buffer = np.zeros(N_FFT // 2, np.float32)  # padded samples from frame self._done's first one
        self._samples = 0
        self._done = 0  # frames returned so far

    def push(self, audio: FloatArray) -> list[FloatArray]:
        """Add (samples,) float32; returns the (BLOCK_FRAMES, N_MELS) blocks now complete (maybe none)."""
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim != 1:
            raise ValueError(f"audio must be mono (samples,), got shape {audio.shape}")
        self._buffer = np.concatenate([self._buffer, audio])
        self._samples += audio.size
        return self._emit(lambda: BLOCK_FRAMES, (BLOCK_FRAMES - 1) * HOP_LENGTH + N_FFT)

    def finish(self) -> list[FloatArray]:
        """The remaining frames (the last block is shorter), with the end padded as log_mel pads it."""
        self._buffer = np.concatenate([self._buffer, np.zeros(N_FFT // 2, np.float32)])
        total = frame_count(self._samples)
        return self._emit(lambda: min(BLOCK_FRAMES, total - self._done), 0)

    def _emit(self, block: Callable[[], int], needed: int) -> list[FloatArray]:
        out = []
        while (count := block()) > 0 and self._buffer.size >= max(needed, (count - 1) * HOP_LENGTH + N_FFT):
            mel = np.empty((count, N_MELS), np.float32)
            _transform(self._buffer, count, mel)
            out.append(mel)
            self._buffer = self._buffer[count * HOP_LENGTH :]
            self._done += count
        if out:
            self._buffer = self._buffer.copy()  # let the consumed samples go
        return out


def _transform(padded: FloatArray, count: int, out: FloatArray) -> None:
    """Write ``count`` log-mel frames into out (count, N_MELS); frame i is padded[i*HOP : i*HOP+N_FFT].

    The frames are laid out as columns, (N_FFT, count), the layout in which ducc0's FFT runs as fast as
    scipy's does on rows, and in which the mel bands gather their bins as whole rows."""
    import ducc0

    step = padded.strides[0]
    frames: npt.NDArray[np.float32] = np.lib.stride_tricks.as_strided(
        padded, (N_FFT, count), (step, step * HOP_LENGTH), writeable=False
    )
    spectrum = ducc0.fft.r2c(frames * _window()[:, None], axes=(0,))
    power = spectrum.real**2 + spectrum.imag**2  # (N_FFT // 2 + 1, count)
    mel = np.empty((N_MELS, count), np.float32)
    for bands, bins, weights in _band_groups():
        np.matmul(weights, power[bins], out=mel[bands])
    np.log(np.maximum(mel.T, LOG_FLOOR), out=out)


def frame_count(samples: int) -> int:
    """Frames log_mel returns for a signal of ``samples`` samples."""
    return samples // HOP_LENGTH + 1
