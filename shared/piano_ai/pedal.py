"""Sustain pedal: the model's per-frame pedal probability to (down, up) intervals, and notes extended by them.

Pure numpy. Frame t is at t * SECONDS_PER_FRAME seconds, as everywhere in the pipeline.
"""

import numpy as np
import numpy.typing as npt

from piano_ai.constants import SECONDS_PER_FRAME
from piano_ai.types import Note

Intervals = list[tuple[float, float]]  # (down, up) seconds
PEDAL_THRESHOLD = 0.8  # the pedal head's own "down" (end_net labels with it; decoding reads piano_ai.sustain)
MIN_PRESS_MS = 100.0  # presses shorter than this are dropped (a pianist's pedal change takes longer)
MIN_LIFT_MS = 50.0  # lifts shorter than this are bridged: two presses become one


def sustain_intervals(
    pedal: npt.NDArray[np.floating], threshold: float = PEDAL_THRESHOLD, min_press_ms: float = MIN_PRESS_MS
) -> Intervals:
    """(down, up) seconds of each press in a (frames,) pedal probability, sorted and not overlapping.

    A press runs from its first frame >= threshold to the first frame below it; lifts under MIN_LIFT_MS are
    bridged first, then presses under ``min_press_ms`` dropped.
    """
    down = np.asarray(pedal, np.float32).reshape(-1) >= threshold
    edges = np.diff(np.concatenate([[0], down.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)  # ends exclusive
    merged: list[list[int]] = []
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        if merged and (start - merged[-1][1]) * SECONDS_PER_FRAME * 1000.0 < MIN_LIFT_MS:
            merged[-1][1] = end
        else:
            merged.append([start, end])
    return [
        (round(start * SECONDS_PER_FRAME, 4), round(end * SECONDS_PER_FRAME, 4))
        for start, end in merged
        if (end - start) * SECONDS_PER_FRAME * 1000.0 >= min_press_ms
    ]


def extend_notes(notes: list[Note], intervals: Intervals) -> list[Note]:
    """Notes whose key is released while the pedal is down sound on until it goes up, cut by the next
    strike of the same key (the rule of piano_ai.data.targets.pedal_extended_notes); sorted by (start, pitch).
    """
    ordered = sorted(notes, key=lambda n: (n.pitch, n.start))
    starts = np.array([n.start for n in ordered], np.float64)
    following = np.array(
        [b.start if b.pitch == a.pitch else np.inf for a, b in zip(ordered, ordered[1:], strict=False)]
        + [np.inf]
    )
    ends = extended_ends(starts, np.array([n.end for n in ordered], np.float64), following, intervals)
    out = [
        Note(n.pitch, n.start, float(e), n.velocity)
        for n, e in zip(ordered, ends, strict=True)
        if e > n.start
    ]
    out.sort(key=lambda n: (n.start, n.pitch))
    return out


def extended_ends(
    starts: npt.NDArray[np.float64],
    ends: npt.NDArray[np.float64],
    following: npt.NDArray[np.float64],
    intervals: Intervals,
) -> npt.NDArray[np.float64]:
    """Ends (notes,) in seconds of notes (start, end) lengthened by the pedal: one released while a press
    is down sounds until it goes up, cut by the next strike of its key (``following``: its start, inf if
    none)."""
    downs = np.array([down for down, _ in intervals], np.float64)
    ups = np.array([up for _, up in intervals] + [0.0], np.float64)
    press = np.searchsorted(downs, ends, side="right") - 1  # the last press down at or before the end
    held = (press >= 0) & (ends < ups[press])
    lengthened = np.where(held, ups[press], ends)
    return np.where(following < lengthened, np.maximum(following, starts), lengthened)
