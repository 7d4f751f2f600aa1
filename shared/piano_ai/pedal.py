"""Sustain pedal: the model's per-frame pedal probability to (down, up) intervals, and notes extended by them.

Pure numpy. Frame t is at t * SECONDS_PER_FRAME seconds, as everywhere in the pipeline.
"""

import numpy as np

from piano_ai.constants import SECONDS_PER_FRAME
from piano_ai.types import FloatArray, Note

Intervals = list[tuple[float, float]]  # (down, up) seconds
PEDAL_THRESHOLD = 0.8  # pedal probability for "down"; tuned for the shipped model (docs/training-runs)
MIN_PRESS_MS = 100.0  # presses shorter than this are dropped (a pianist's pedal change takes longer)
MIN_LIFT_MS = 50.0  # lifts shorter than this are bridged: two presses become one


def sustain_intervals(
    pedal: FloatArray, threshold: float = PEDAL_THRESHOLD, min_press_ms: float = MIN_PRESS_MS
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
    ups = np.array([up for _, up in intervals], np.float64)
    downs = np.array([down for down, _ in intervals], np.float64)
    by_pitch: dict[int, list[Note]] = {}
    for note in sorted(notes, key=lambda n: (n.start, n.pitch)):
        by_pitch.setdefault(note.pitch, []).append(note)
    out = []
    for items in by_pitch.values():
        for i, note in enumerate(items):
            end = note.end
            k = int(np.searchsorted(downs, end, side="right")) - 1  # the last press down at or before the end
            if k >= 0 and end < ups[k]:
                end = float(ups[k])
            if i + 1 < len(items) and items[i + 1].start < end:  # a re-strike cuts the sounding note
                end = max(items[i + 1].start, note.start)
            if end > note.start:
                out.append(Note(note.pitch, note.start, end, note.velocity))
    out.sort(key=lambda n: (n.start, n.pitch))
    return out
