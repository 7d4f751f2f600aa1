"""Which onset peaks start notes: a small network judges every peak from what surrounds it. Pure numpy.

The onset head alone puts a threshold on one number, the peak's height. On a real piano many weak peaks are
notes and many strong ones are not (a low note's octave partial, one strike seen twice), and what tells them
apart lies around the peak: how the frame head goes on after it, the keys an octave or a fifth away, the same
key just before and after, how many keys start at once. So every local maximum of the onset head at least
CANDIDATE_FLOOR high is described by FEATURES (37 numbers read from ONSET_CONTEXT frames before it to
LOOKAHEAD frames after it) and a two-layer network (an mlp.Mlp, trained by piano_ai.training.onset_net on
MAPS's sampled pianos, from the shipped model's own outputs) gives the probability that a note starts
there; notes.find_notes keeps the peaks where it reaches the onset threshold. Where the recording's levels
(piano_ai.levels) are at hand, a second network reads LEVEL_FEATURES as well.
"""

from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from piano_ai.mlp import Mlp
from piano_ai.types import FloatArray

CANDIDATE_FLOOR = 0.2  # onset peaks below this are never notes
ECHO_FLOOR = 0.7  # peaks this strong count as the stronger peak an echo repeats
SURE_ONSET = 0.9  # an echo is a peak under this that a stronger one explains
OCTAVE_FRAMES = 0  # an octave partial's peak lies within this many frames of its low note's (0: the same)
REPEAT_FRAMES = 3  # a second peak of one strike lies within this many frames (96 ms) after the first
ONSET_CONTEXT = REPEAT_FRAMES + 1  # frames before a peak that its features read
LOOKAHEAD = 4  # frames after a peak that its features read
RELATED_KEYS = (-24, -19, -12, -7, -5, 5, 7, 12)  # two octaves, a twelfth, an octave, a fifth, a fourth away
FEATURES = (
    [f"onset[t{d:+d}]" for d in (-2, -1, 0, 1, 2)]
    + [f"frame[t{d:+d}]" for d in (-3, -1, 0, 1, 2, 4)]
    + [f"offset[t{d:+d}]" for d in (-1, 0, 1)]
    + ["velocity[t]"]
    + [name for k in RELATED_KEYS for name in (f"onset[t-1..t+1, key{k:+d}]", f"frame[t, key{k:+d}]")]
    + ["onset[t-4..t-2]", "onset[t+2..t+4]", "keys with onset >= 0.5 at t", "onset summed over keys at t"]
    + ["key / 88", "echo"]
)
# Where the recording's levels are at hand (piano_ai.levels), a second network reads them too: for the key and
# the key an octave up (its second partial), how its level rises over the peak and how it stands against the
# loudest key, and how much every key rises at once.
LEVEL_KEYS = (0, 12)
LEVEL_FEATURES = [
    name
    for dk in LEVEL_KEYS
    for name in (
        f"level[t..t+1] max - level[t-2..t-1] min, key{dk:+d}",
        f"level[t+1] - loudest key's level[t+1], key{dk:+d}",
        f"level[t+1] - level[t-1], key{dk:+d}",
    )
] + ["level rise over keys at t", "level rise over keys at t+1"]
NET_FILE = Path(__file__).parent / "weights" / "default" / "onsets.npz"
LEVEL_NET_FILE = NET_FILE.with_name("onsets_level.npz")

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@lru_cache(maxsize=1)
def shipped_net() -> Mlp:
    """The network trained for the shipped model's outputs (weights/default/onsets.npz)."""
    return Mlp.load(NET_FILE, len(FEATURES))


@lru_cache(maxsize=1)
def shipped_level_net() -> Mlp:
    """The network trained for the shipped model's outputs with levels (weights/default/onsets_level.npz)."""
    return Mlp.load(LEVEL_NET_FILE, len(FEATURES) + len(LEVEL_FEATURES))


def note_onsets(
    onset: FloatArray,
    frame: FloatArray,
    offset: FloatArray,
    velocity: FloatArray,
    threshold: float,
    net: Mlp | None = None,
    level: FloatArray | None = None,
) -> BoolArray:
    """(frames, keys) bool: the onset peaks the network judges notes at ``threshold``. With ``level``
    (piano_ai.levels) the network reads LEVEL_FEATURES too (default: the shipped level network), without it
    only FEATURES (default: the shipped network). A peak's verdict depends only on frames ONSET_CONTEXT
    before it to LOOKAHEAD after it."""
    peaks = onset_peaks(onset, CANDIDATE_FLOOR)
    times, keys = np.nonzero(peaks)
    judge = net or (shipped_net() if level is None else shipped_level_net())
    keep = judge.probability(peak_features(onset, frame, offset, velocity, times, keys, level))
    out = np.zeros(peaks.shape, bool)
    chosen = keep >= threshold
    out[times[chosen], keys[chosen]] = True
    return out


def peak_features(
    onset: FloatArray,
    frame: FloatArray,
    offset: FloatArray,
    velocity: FloatArray,
    times: IntArray,
    keys: IntArray,
    level: FloatArray | None = None,
) -> npt.NDArray[np.float32]:
    """(peaks, len(FEATURES)) float32: FEATURES of the onset peaks at (times, keys), then LEVEL_FEATURES
    when ``level`` is given; outside the recording every head (and level) reads 0."""

    def at(head: FloatArray, dt: int = 0, dk: int = 0) -> FloatArray:
        return read(head, times, keys, dt, dk)

    columns: list[np.ndarray] = [at(onset, d) for d in (-2, -1, 0, 1, 2)]
    columns += [at(frame, d) for d in (-3, -1, 0, 1, 2, 4)]
    columns += [at(offset, d) for d in (-1, 0, 1)]
    columns.append(at(velocity))
    for dk in RELATED_KEYS:
        columns.append(np.maximum.reduce([at(onset, d, dk) for d in (-1, 0, 1)]))
        columns.append(at(frame, 0, dk))
    columns.append(np.maximum.reduce([at(onset, -d) for d in (2, 3, 4)]))
    columns.append(np.maximum.reduce([at(onset, d) for d in (2, 3, 4)]))
    columns.append((onset >= 0.5).sum(axis=1)[times])
    columns.append(onset.sum(axis=1)[times])
    columns.append(keys / 88.0)
    columns.append(echoes(onset, onset_peaks(onset, ECHO_FLOOR))[times, keys])
    if level is not None:
        columns += _level_columns(level, times, keys)
    width = len(FEATURES) + (len(LEVEL_FEATURES) if level is not None else 0)
    return np.stack([np.asarray(c, np.float32) for c in columns], axis=1).reshape(times.size, width)


def read(head: FloatArray, times: IntArray, keys: IntArray, dt: int = 0, dk: int = 0) -> FloatArray:
    """(points,) ``head`` (frames, keys) at (times + dt, keys + dk); 0 outside it."""
    t, k = times + dt, keys + dk
    inside = (t >= 0) & (t < head.shape[0]) & (k >= 0) & (k < head.shape[1])
    values = head[np.clip(t, 0, max(head.shape[0] - 1, 0)), np.clip(k, 0, head.shape[1] - 1)]
    return np.where(inside, values, 0.0)


def _level_columns(level: FloatArray, times: IntArray, keys: IntArray) -> list[FloatArray]:
    """LEVEL_FEATURES' columns for the peaks at (times, keys)."""

    def at(head: FloatArray, dt: int = 0, dk: int = 0) -> FloatArray:
        return read(head, times, keys, dt, dk)

    frames = level.shape[0]
    loudest = level.max(axis=1, initial=0.0)
    rise = (
        np.concatenate([[0.0], np.maximum(np.diff(level, axis=0), 0.0).mean(axis=1)]) if frames else loudest
    )
    next_frame = np.clip(times + 1, 0, max(frames - 1, 0))
    inside_next = times + 1 < frames
    columns = []
    for dk in LEVEL_KEYS:
        now, later = at(level, 0, dk), at(level, 1, dk)
        before = np.minimum(at(level, -2, dk), at(level, -1, dk))
        columns.append(np.maximum(now, later) - before)
        columns.append(later - np.where(inside_next, loudest[next_frame], 0.0))
        columns.append(later - at(level, -1, dk))
    columns.append(rise[times])
    columns.append(np.where(inside_next, rise[next_frame], 0.0))
    return columns


def onset_peaks(onset: FloatArray, threshold: float) -> BoolArray:
    """(frames, keys) bool: local maxima in time of ``onset`` >= threshold (a plateau peaks at its start)."""
    before = np.vstack([np.zeros((1, onset.shape[1]), onset.dtype), onset[:-1]])
    after = np.vstack([onset[1:], np.zeros((1, onset.shape[1]), onset.dtype)])
    return (onset >= threshold) & (onset > before) & (onset >= after)


def echoes(onset: FloatArray, peaks: BoolArray) -> BoolArray:
    """(frames, keys) bool: the peaks under SURE_ONSET that echo a stronger one, an octave below within
    OCTAVE_FRAMES or on the same key up to REPEAT_FRAMES before (peaks are judged against every peak, kept
    or not, so no decision waits on another)."""
    frames = onset.shape[0]
    times, keys = np.nonzero(peaks & (onset < SURE_ONSET))  # the weak peaks, the only ones that can echo
    value = onset[times, keys]
    echo = np.zeros(times.shape, bool)
    for shift in range(-OCTAVE_FRAMES, OCTAVE_FRAMES + 1):
        t, k = times + shift, keys - 12
        inside = (t >= 0) & (t < frames) & (k >= 0)
        t, k = np.where(inside, t, 0), np.where(inside, k, 0)
        echo |= inside & peaks[t, k] & (onset[t, k] >= value)
    for lag in range(1, REPEAT_FRAMES + 1):
        t = times - lag
        inside = t >= 0
        t = np.where(inside, t, 0)
        echo |= inside & peaks[t, keys] & (onset[t, keys] > value)
    out = np.zeros(peaks.shape, bool)
    out[times[echo], keys[echo]] = True
    return out
