"""Notes from activations that arrive in blocks, in memory that does not grow with the recording.

notes.find_notes decides a note from ONSET_CONTEXT frames before its onset to the frame it says the decision
read, so a window of frames that holds all of those finds it exactly as the whole recording would. The stream
keeps a window from ONSET_CONTEXT frames before the earliest note it has not settled yet; a note is settled
once the last frame its decision read lies inside the window. Memory then depends on the longest note (at
most ends.SPAN_FRAMES when the network ends notes), not on the recording.
"""

from collections.abc import Mapping

import numpy as np

from piano_ai.levels import LEVEL
from piano_ai.note_nets import NoteNets
from piano_ai.notes import END_CONTEXT, find_notes
from piano_ai.onsets import ONSET_CONTEXT
from piano_ai.types import FloatArray, Note, NoteParams

SETTLE_FRAMES = END_CONTEXT  # an onset peak this near the window's end may not be decided yet
MIN_NEW_FRAMES = 4096  # frames (131 s) gathered before the window is searched again: amortises the overlap
NOTE_HEADS = ("onset", "frame", "offset", "velocity")  # the heads notes are made of; others pass by
KEPT = (*NOTE_HEADS, LEVEL)  # what the window keeps: those, and the levels when the blocks have them


class NoteStream:
    """Feed activation blocks in order with push(), then finish() for the notes, sorted by (start, pitch).

    The result equals notes.notes_from_activations on the whole recording's activations.
    """

    def __init__(self, params: NoteParams | None = None, nets: NoteNets | None = None) -> None:
        self.params = (params or NoteParams()).validate()
        self.nets = nets  # judge the onset peaks and choose the ends (None: the shipped model's)
        self._pending: list[Mapping[str, FloatArray]] = []  # blocks not yet joined to the window
        self._window: dict[str, FloatArray] = {}  # (frames, N_KEYS) per head, from frame self._origin
        self._origin = 0  # the window's first frame in the recording
        self._new_frames = 0
        self._settled: set[tuple[int, int]] = set()  # (onset frame, key) of settled notes in the window
        self._notes: list[Note] = []

    @property
    def window_frames(self) -> int:
        """Frames held now (the window and the blocks not searched yet)."""
        held = len(next(iter(self._window.values()))) if self._window else 0
        return held + sum(len(block["onset"]) for block in self._pending)

    def push(self, block: Mapping[str, FloatArray]) -> None:
        """Add the next frames: a (frames, N_KEYS) array per head, and the levels (piano_ai.levels) when the
        onset network is to read them (other heads are ignored)."""
        self._pending.append({head: block[head] for head in KEPT if block.get(head) is not None})
        self._new_frames += len(block["onset"])
        if self._new_frames >= MIN_NEW_FRAMES:
            self._search(last=False)

    def finish(self) -> list[Note]:
        """The notes of everything pushed, sorted by (start, pitch)."""
        self._search(last=True)
        notes = sorted(self._notes, key=lambda n: (n.start, n.pitch))
        self._notes = []
        return notes

    def _search(self, last: bool) -> None:
        window = self._join()
        frames = len(window["onset"]) if window else 0
        if frames == 0:
            return
        found = find_notes(
            window["onset"],
            window["frame"],
            window["offset"],
            window["velocity"],
            self.params,
            self._origin,
            self.nets,
            window.get(LEVEL),
        )
        # onsets nearer the window's start than ONSET_CONTEXT were settled in an earlier window
        first_onset = ONSET_CONTEXT if self._origin > 0 else 0
        settled = found.times >= first_onset
        if not last:
            settled &= found.read <= frames - 1
        fresh = [
            int(i)
            for i in np.flatnonzero(settled)
            if (self._origin + int(found.times[i]), int(found.keys[i])) not in self._settled
        ]
        self._settled.update((self._origin + int(found.times[i]), int(found.keys[i])) for i in fresh)
        kept = [i for i in fresh if found.keep[i]]
        self._notes.extend(found.subset(np.asarray(kept, np.int64)).to_notes())
        if not last:
            self._slide(window, found.times[(found.times >= first_onset) & ~settled], frames)

    def _join(self) -> dict[str, FloatArray]:
        parts = [self._window, *self._pending] if self._window else self._pending
        self._window = {head: np.concatenate([p[head] for p in parts]) for head in parts[0]} if parts else {}
        self._pending, self._new_frames = [], 0
        return self._window

    def _slide(self, window: dict[str, FloatArray], open_onsets: np.ndarray, frames: int) -> None:
        """Drop the frames no unsettled note needs: keep from ONSET_CONTEXT before the earliest open onset."""
        earliest = min(int(open_onsets.min()) if open_onsets.size else frames, frames - 1 - SETTLE_FRAMES)
        keep_from = earliest - ONSET_CONTEXT
        keep_from = max(keep_from, 0)
        self._window = {head: values[keep_from:].copy() for head, values in window.items()}
        self._origin += keep_from
        self._settled = {(t, k) for t, k in self._settled if t >= self._origin}
