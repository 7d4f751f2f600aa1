"""Where notes end: a small network chooses each note's last frame among a few candidates. Pure numpy.

A threshold on the frame head ends a note where the head first drops below it, but how far it drops at a key
release differs from note to note (a loud low note rings on, a soft high one fades early) and no one level
suits them all. So every note gets a few candidate ends: where the frame head first drops below each of
CROSSING_LEVELS, the first OFFSET_PEAKS peaks of the offset head, and the last frame it may reach (its
span: up to the next strike of its key, at most SPAN_FRAMES). Each candidate is described by FEATURES, read
from the note's onset to AFTER frames past the candidate, and a two-layer network (an mlp.Mlp, trained by
piano_ai.training.end_net on MAPS's sampled pianos from the shipped model's own outputs) gives the
probability that the key is released there; the note ends at the likeliest.
"""

from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from piano_ai.mlp import Mlp
from piano_ai.onsets import onset_peaks
from piano_ai.types import FloatArray

SPAN_FRAMES = 400  # a note lasts at most this many frames (12.8 s)
CROSSING_LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)  # frame-head levels whose first crossing is a candidate
CROSSING_FROM = 2  # ... searched from this many frames after the onset (the frame head may still rise)
OFFSET_PEAKS = 10  # the first this many offset-head peaks after the onset are candidates
OFFSET_FLOOR = 0.05  # ... when at least this high
AFTER = 8  # frames after a candidate end that its features read
QUANTUM = 1 << 16  # frame probabilities are summed as integers of 1 / QUANTUM: the same in any window
KINDS = (
    [f"frame drops below {level}" for level in CROSSING_LEVELS]
    + [f"offset peak {i + 1}" for i in range(OFFSET_PEAKS)]
    + ["span end"]
)
FEATURES = (
    ["frames", "log(1 + frames)", "frame mean onset..end", f"frame mean end+1..end+{AFTER}"]
    + [f"frame[e{d:+d}]" for d in (-2, -1, 0, 1, 2)]
    + [f"offset[e{d:+d}]" for d in (-1, 0, 1)]
    + ["onset max e+1..e+3", "onset[t]", "velocity[t]", "key / 88"]
    + ["crossing level", "offset peak height", "is span end", "span cut by a strike", "frames to span end"]
    + ["onset summed over keys, max e-1..e+2"]
)
# Where the recording's levels are at hand (piano_ai.levels), a second network also hears the key: how its
# fundamental (and its octave) has fallen by the candidate since the note's start, how much it falls there,
# and how every key falls (a pedal lift silences them all at once); differences only, so the same at any gain.
LEVEL_FEATURES = (
    [f"level[e{d:+d}] - level[t+1]" for d in (-1, 0, 1, 2, 4)]
    + [
        "level[e-1] - level[e+2]",
        "level[e+1, key+12] - level[t+1, key+12]",
        "level[t+1] - loudest level[t+1]",
    ]
    + ["mean level[e+1] - mean level[t+1]", "mean level[e-1] - mean level[e+2]"]
)
NET_FILE = Path(__file__).parent / "weights" / "default" / "ends.npz"
LEVEL_NET_FILE = NET_FILE.with_name("ends_level.npz")

IntArray = npt.NDArray[np.int64]


@lru_cache(maxsize=1)
def shipped_net() -> Mlp:
    """The network trained for the shipped model's outputs (weights/default/ends.npz)."""
    return Mlp.load(NET_FILE, len(FEATURES))


@lru_cache(maxsize=1)
def shipped_level_net() -> Mlp:
    """The network trained for the shipped model's outputs with levels (weights/default/ends_level.npz)."""
    return Mlp.load(LEVEL_NET_FILE, len(FEATURES) + len(LEVEL_FEATURES))


def span_ends(times: IntArray, reonset: IntArray, frames: int) -> IntArray:
    """(notes,) the last frame each note may reach: its key's next strike (``reonset``, frames if none), at
    most SPAN_FRAMES after its onset, within the run."""
    return np.minimum(np.minimum(reonset, times + SPAN_FRAMES), frames - 1)


def candidates(
    frame: FloatArray, offset: FloatArray, times: IntArray, keys: IntArray, span: IntArray
) -> IntArray:
    """(notes, len(KINDS)) candidate end frames, each in onset+1..span (the span when a kind finds none).

    Each note's frames from onset+CROSSING_FROM to one past its span are gathered as a row, (notes, at most
    SPAN_FRAMES): a crossing or a peak beyond them would read as the span anyway. Searched over whole
    (frames, keys) masks instead, a kind at a time, the 17 kinds took 10.2 against 3.2 ms for 448 notes."""
    frames, notes = frame.shape[0], times.size
    first = times + CROSSING_FROM
    width = max(1, int((span + 2 - first).max(initial=0)))
    rows = first[:, None] + np.arange(width)
    inside = rows <= np.minimum(span + 1, frames - 1)[:, None]
    rows = np.minimum(rows, frames - 1)
    values = frame[rows, keys[:, None]]
    columns = []
    for level in CROSSING_LEVELS:  # the frame before the first frame below the level
        below = (values < level) & inside
        hit = below.argmax(axis=1)
        columns.append(np.where(below[np.arange(notes), hit], first + hit, frames) - 1)
    # the first OFFSET_PEAKS offset peaks from onset+2: each peak's rank within its note's row
    row, column = np.nonzero(onset_peaks(offset, OFFSET_FLOOR)[rows, keys[:, None]] & inside)
    rank = np.arange(row.size) - np.searchsorted(row, np.arange(notes))[row]
    take = rank < OFFSET_PEAKS
    peaks = np.full((notes, OFFSET_PEAKS), frames, np.int64)
    peaks[row[take], rank[take]] = first[row[take]] + column[take]
    ends = np.concatenate([np.stack(columns, axis=1), peaks, span[:, None]], axis=1)
    low = np.minimum(times + 1, span)
    return np.where(ends > span[:, None], span[:, None], np.maximum(ends, low[:, None]))


def features(
    onset: FloatArray,
    frame: FloatArray,
    offset: FloatArray,
    velocity: FloatArray,
    times: IntArray,
    keys: IntArray,
    span: IntArray,
    reonset: IntArray,
    ends: IntArray,
    level: FloatArray | None = None,
) -> npt.NDArray[np.float32]:
    """(notes * len(KINDS), len(FEATURES)) float32: FEATURES of every candidate (``candidates``' rows
    flattened), then LEVEL_FEATURES when ``level`` is given; outside the recording every head reads 0."""
    frames = frame.shape[0]
    kinds = len(KINDS)
    t, k = np.repeat(times, kinds), np.repeat(keys, kinds)
    e = ends.reshape(-1)
    s = np.repeat(span, kinds)

    def at(head: FloatArray, rows: IntArray, column: IntArray = k) -> FloatArray:
        inside = (rows >= 0) & (rows < frames)
        return np.where(inside, head[np.clip(rows, 0, max(frames - 1, 0)), column], 0.0)

    used, column = np.unique(keys, return_inverse=True)  # only the keys with notes have their sums read
    column = np.repeat(column.reshape(-1), kinds)
    total = _running_sums(frame[:, used])

    def mean(first: IntArray, last: IntArray) -> FloatArray:  # frame head over first..last, 0 outside
        lo, hi = np.clip(first, 0, frames), np.clip(last + 1, 0, frames)
        count = np.maximum(last + 1 - first, 1)
        return (total[np.maximum(hi, lo), column] - total[lo, column]) / (QUANTUM * count)

    length = e - t
    crossing = np.tile(np.append(CROSSING_LEVELS, np.zeros(kinds - len(CROSSING_LEVELS))), times.size)
    is_peak = np.tile([len(CROSSING_LEVELS) <= i < kinds - 1 for i in range(kinds)], times.size)
    columns: list[np.ndarray] = [length, np.log1p(length), mean(t + 1, e), mean(e + 1, e + AFTER)]
    columns += [at(frame, e + d) for d in (-2, -1, 0, 1, 2)]
    columns += [at(offset, e + d) for d in (-1, 0, 1)]
    columns.append(np.maximum.reduce([at(onset, e + d) for d in (1, 2, 3)]))
    columns += [at(onset, t), at(velocity, t), k / 88.0]
    columns += [
        crossing,
        np.where(is_peak, at(offset, e), 0.0),
        e == s,
        np.repeat(reonset, kinds) == s,
        s - e,
    ]
    struck = onset.sum(axis=1)[:, None]  # (frames, 1): how much starts in each frame, over all keys
    # a key is often released as the next chord is struck
    columns.append(np.maximum.reduce([at(struck, e + d, np.zeros_like(k)) for d in (-1, 0, 1, 2)]))
    if level is not None:  # differences only: the same at any recording gain
        everywhere = np.zeros_like(k)
        octave = np.minimum(k + 12, level.shape[1] - 1)
        has_octave = k + 12 < level.shape[1]
        mean_level = level.mean(axis=1, keepdims=True)
        loudest = level.max(axis=1, keepdims=True)
        start = at(level, t + 1)
        columns += [at(level, e + d) - start for d in (-1, 0, 1, 2, 4)]
        columns.append(at(level, e - 1) - at(level, e + 2))
        columns.append(np.where(has_octave, at(level, e + 1, octave) - at(level, t + 1, octave), 0.0))
        columns.append(start - at(loudest, t + 1, everywhere))
        columns.append(at(mean_level, e + 1, everywhere) - at(mean_level, t + 1, everywhere))
        columns.append(at(mean_level, e - 1, everywhere) - at(mean_level, e + 2, everywhere))
    width = len(FEATURES) + (len(LEVEL_FEATURES) if level is not None else 0)
    return np.stack([np.asarray(c, np.float32) for c in columns], axis=1).reshape(e.size, width)


def note_ends(
    onset: FloatArray,
    frame: FloatArray,
    offset: FloatArray,
    velocity: FloatArray,
    times: IntArray,
    keys: IntArray,
    reonset: IntArray,
    net: Mlp | None = None,
    level: FloatArray | None = None,
) -> tuple[IntArray, IntArray]:
    """The last frame (notes,) of each note (onset frame ``times``, key ``keys``, its key's next strike at
    ``reonset``), and the last frame (notes,) its choice read: the choice holds in any run of frames that
    holds the onset's and this one's. With ``level`` the network (default: the shipped level network) reads
    LEVEL_FEATURES too."""
    frames = frame.shape[0]
    span = span_ends(times, reonset, frames)
    ends = candidates(frame, offset, times, keys, span)
    if times.size == 0:
        return ends[:, 0], ends[:, 0]
    x = features(onset, frame, offset, velocity, times, keys, span, reonset, ends, level)
    judge = net or (shipped_net() if level is None else shipped_level_net())
    p = judge.probability(x).reshape(ends.shape)
    best = ends[np.arange(times.size), p.argmax(axis=1)]
    # a span cut short by the run's end reads past it, so it is never decided inside the run
    read = np.where(span == frames - 1, frames + AFTER, span + AFTER)
    return best, read


def _running_sums(head: FloatArray) -> npt.NDArray[np.float64]:
    """(frames + 1, keys): 0, then the running sums of ``head`` rounded to 1 / QUANTUM, as whole numbers
    (float64 holds them exactly below 2**53: some 140 years of frames), so a difference is the same in any
    window."""
    rounded = head.astype(np.float64)
    rounded *= QUANTUM
    np.rint(rounded, out=rounded)
    total = np.zeros((head.shape[0] + 1, head.shape[1]))
    np.cumsum(rounded, axis=0, out=total[1:])
    return total
