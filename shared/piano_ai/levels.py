"""How loud each key's fundamental is, frame by frame: the log-mel read at the band of each key's pitch.

The onset network (piano_ai.onsets) judges onset peaks from the model's heads; on a real piano some heads'
peaks are one strike seen twice or a partial of another note, and the sound itself tells them apart: does
this key's fundamental (and its octave, read at the key 12 above) rise at the peak? The levels ride beside the
heads as one more output ("level", (frames, N_KEYS), 0..1), so they are streamed, stored and re-decoded as
the heads are. Pure numpy; no model involved.
"""

from functools import lru_cache

import numpy as np
import numpy.typing as npt

from piano_ai.constants import LOWEST_KEY, N_FFT, N_KEYS, SAMPLE_RATE
from piano_ai.features import LOG_FLOOR, mel_basis
from piano_ai.types import FloatArray

LEVEL = "level"  # the name it goes by among the model's outputs (inference.Transcriber.stream)
LOW = float(np.log(LOG_FLOOR))  # log power of silence (the log-mel's floor) -> level 0
HIGH = 8.5  # log power -> level 1 (the loudest frames of MAPS's recordings reach about 7.9)


@lru_cache(maxsize=1)
def key_bands() -> npt.NDArray[np.int64]:
    """(N_KEYS,) the mel band that weighs each key's fundamental frequency most."""
    basis = mel_basis()  # (FFT bins, mel bands)
    hz = 440.0 * 2.0 ** ((np.arange(N_KEYS) + LOWEST_KEY - 69) / 12.0)
    fft_bins = np.minimum(np.rint(hz / (SAMPLE_RATE / N_FFT)).astype(np.int64), basis.shape[0] - 1)
    return np.argmax(basis[fft_bins], axis=1).astype(np.int64)


def key_levels(mel: FloatArray) -> FloatArray:
    """(frames, N_KEYS) float32 in 0..1: a (frames, N_MELS) log-mel at key_bands(), LOW..HIGH mapped
    linearly to 0..1 (clipped). Each frame's levels depend on that frame alone."""
    levels = (np.asarray(mel, np.float32)[:, key_bands()] - np.float32(LOW)) / np.float32(HIGH - LOW)
    return np.clip(levels, 0.0, 1.0).astype(np.float32, copy=False)
