"""Post-processing: the model's frame-wise activations to a list of notes. Pure numpy.

The rules mirror how piano_ai.data.targets writes the training targets (frame t is at
t * SECONDS_PER_FRAME seconds; a note is marked onset on its first frame, frame from its first
through its last frame, offset on its last frame):

- a note starts at a local maximum of the onset probability that piano_ai.onsets' network, reading the heads
  around it, judges a note with at least onset_threshold; the start time is refined below a frame by a
  parabola through the peak and its two neighbours (a frame is 32 ms);
- by default (ends="network") it ends on the frame piano_ai.ends' network picks among a few candidates, at
  the latest on the next onset of the same key;
- by the rule (ends="rule") it sounds while the frame probability is >= frame_threshold (right after the
  onset the frame head may still be rising, so the first ONSET_GRACE_FRAMES frames may be below the
  threshold) and ends on its last frame above frame_threshold, on the first frame whose offset
  probability is >= offset_threshold (ignored in the first OFFSET_GUARD_FRAMES frames, where a re-struck
  key's previous offset lives), or at the next onset of the same key, whichever comes first;
- either way the end is then moved to the offset head's peak within a frame of it, refined below a frame
  like onsets (this gained 0.016 offset F1 on the validation split), or to the next strike's onset;
- notes shorter than min_note_ms are dropped; velocity is the onset-weighted mean of the velocity
  head over the onset frame and its neighbours, times 127.
"""

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from piano_ai.constants import LOWEST_KEY, N_KEYS, SECONDS_PER_FRAME
from piano_ai.ends import note_ends
from piano_ai.onsets import LOOKAHEAD, note_onsets
from piano_ai.types import Activations, FloatArray, Note, NoteParams
from piano_ai.velocities import note_velocities

if TYPE_CHECKING:
    from piano_ai.note_nets import NoteNets

ONSET_GRACE_FRAMES = 2  # frames after an onset in which the frame head may still be below threshold
OFFSET_GUARD_FRAMES = 1  # frames after an onset in which the offset head cannot end the note
VELOCITY_RADIUS = 1  # frames either side of the onset frame averaged for the velocity
OFFSET_SNAP_FRAMES = 1  # an end moves to the offset head's peak within this many frames of it
OFFSET_SNAP_FLOOR = 0.05  # ... when that peak is at least this probability

# a note's end is decided by the frames up to one after it, and by whether a peak of its key before then is
# a note, which reads LOOKAHEAD frames further
END_CONTEXT = LOOKAHEAD + 1

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def notes_from_activations(
    act: Activations, params: NoteParams | None = None, nets: "NoteNets | None" = None
) -> list[Note]:
    """Notes from activations (each (frames, N_KEYS) float32 in 0..1), sorted by (start, pitch).

    Times are in seconds from the start of the audio; velocity is 1..127. ``nets`` judge the onset peaks and
    choose the ends (default: the shipped model's, piano_ai.note_nets).
    """
    params = params or NoteParams()
    onset, frame, offset, velocity = _checked(act)
    found = find_notes(onset, frame, offset, velocity, params, nets=nets, level=act.level)
    notes = [note for i, note in enumerate(found.to_notes()) if found.keep[i]]
    notes.sort(key=lambda n: (n.start, n.pitch))
    return notes


@dataclass(frozen=True)
class FoundNotes:
    """Every note found in a run of frames, unsorted; each array is (notes,).

    ``times`` and ``end`` are frame indices within the run (onset frame, last frame); ``start_s``/``end_s``
    are seconds from the start of the audio (the run's first frame is frame ``origin`` of the audio).
    """

    times: IntArray
    keys: IntArray
    end: IntArray
    read: IntArray  # the last frame the note's decision read: it holds in any run that reaches this far
    start_s: npt.NDArray[np.float64]
    end_s: npt.NDArray[np.float64]
    velocity: IntArray
    keep: BoolArray  # at least min_note_ms long

    def subset(self, index: IntArray) -> "FoundNotes":
        """The notes at ``index``."""
        return FoundNotes(*(getattr(self, f.name)[index] for f in fields(self)))

    def to_notes(self) -> list[Note]:
        return [
            Note(int(k) + LOWEST_KEY, float(s), float(e), int(v))
            for k, s, e, v in zip(self.keys, self.start_s, self.end_s, self.velocity, strict=True)
        ]


def find_notes(
    onset: FloatArray,
    frame: FloatArray,
    offset: FloatArray,
    velocity: FloatArray,
    params: NoteParams,
    origin: int = 0,
    nets: "NoteNets | None" = None,
    level: FloatArray | None = None,
) -> FoundNotes:
    """The notes in a run of frames (each array (frames, N_KEYS)) starting at frame ``origin`` of the audio.

    A note needs only the frames from onsets.ONSET_CONTEXT before its onset to its ``read`` frame, so a run
    that holds those finds it exactly as the whole recording would (piano_ai.note_stream relies on this).
    ``nets`` judge onset peaks and choose ends (default: the shipped model's, piano_ai.note_nets); with
    ``level`` (piano_ai.levels, the same frames) and a level network among them, the onsets read the levels,
    and with a velocity network the velocities are its (piano_ai.velocities), else the velocity head's.
    """
    from piano_ai.note_nets import shipped_nets

    nets = nets or shipped_nets()
    frames = onset.shape[0]
    judge, reads_level = nets.onset_judge(level)
    peaks = (
        note_onsets(
            onset, frame, offset, velocity, params.onset_threshold, judge, level if reads_level else None
        )
        if frames
        else np.zeros(onset.shape, bool)
    )
    times, keys = np.nonzero(peaks)  # onset frame and key of every note, (notes,)
    reonset = next_true(peaks, times + 1, keys)
    if params.ends == "network":
        end_net, reads_level = nets.end_judge(level)
        end_level = level if reads_level else None
        end, read = note_ends(onset, frame, offset, velocity, times, keys, reonset, end_net, end_level)
    else:
        end = rule_ends(frame, offset, times, keys, reonset, params)
        read = end + END_CONTEXT

    start_f = refined_peaks(onset, times, keys, origin)
    start_s = start_f * SECONDS_PER_FRAME
    end_s = end_frames(onset, offset, keys, end, reonset, start_f, origin) * SECONDS_PER_FRAME
    if level is not None and nets.velocities is not None:
        vel = note_velocities(onset, frame, velocity, level, times, keys, nets.velocities)
    else:
        vel = onset_velocities(onset, velocity, times, keys)
    keep = (end_s - start_s) * 1000.0 >= max(params.min_note_ms, 1e-6)
    return FoundNotes(times, keys, end, read, start_s, end_s, vel, keep)


def rule_ends(
    frame: FloatArray,
    offset: FloatArray,
    times: IntArray,
    keys: IntArray,
    reonset: IntArray,
    params: NoteParams,
) -> IntArray:
    """The last frame (notes,) of each note by the thresholds (the module's docstring)."""
    frames = frame.shape[0]
    reach = next_true(frame >= params.frame_threshold, times, keys)
    anchor = np.where((reach <= times + ONSET_GRACE_FRAMES) & (reach < frames), reach, times)  # sounds here
    last_sounding = next_true(frame < params.frame_threshold, anchor + 1, keys) - 1
    guard = np.minimum(np.maximum(anchor + 1, times + OFFSET_GUARD_FRAMES + 1), frames)
    offset_frame = next_true(offset >= params.offset_threshold, guard, keys)
    end = np.minimum(np.minimum(np.maximum(last_sounding, times + 1), offset_frame), reonset)
    return np.minimum(end, frames - 1)


def end_frames(
    onset: FloatArray,
    offset: FloatArray,
    keys: IntArray,
    end: IntArray,
    reonset: IntArray,
    start_f: npt.NDArray[np.float64],
    origin: int = 0,
) -> npt.NDArray[np.float64]:
    """Sub-frame end positions (notes,) of notes whose last frame is ``end``: at the next strike's refined
    onset where that cuts them, else snapped to the offset head (refined_offsets), never under a frame."""
    cut = (end == reonset) & (reonset < onset.shape[0])  # ends where the same key is struck again
    # Snapping never shortens a note below one frame (below min_note_ms it would be dropped).
    end_f = np.maximum(refined_offsets(offset, end, keys, origin), np.minimum(end + origin, start_f + 1))
    end_f[cut] = refined_peaks(onset, reonset[cut], keys[cut], origin)
    return end_f


def refined_peaks(
    head: FloatArray, times: IntArray, keys: IntArray, origin: int = 0
) -> npt.NDArray[np.float64]:
    """Sub-frame positions (notes,) of the peaks of ``head`` (onset or offset) at (times, keys): the vertex
    of a parabola through frames t-1, t, t+1. The shift is clipped to half a frame and is 0 at the edges.
    Positions count from frame ``origin`` (head's first row) of the audio.
    """
    frames = head.shape[0]
    inner = (times > 0) & (times < frames - 1)
    t = np.clip(times, 1, max(frames - 2, 0)) if frames >= 3 else times
    y = head.astype(np.float64)
    left, mid, right = y[np.maximum(t - 1, 0), keys], y[t, keys], y[np.minimum(t + 1, frames - 1), keys]
    curvature = left - 2.0 * mid + right
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(inner & (curvature < 0), 0.5 * (left - right) / curvature, 0.0)
    return (times + origin) + np.clip(shift, -0.5, 0.5)


def refined_offsets(
    offset: FloatArray, end: IntArray, keys: IntArray, origin: int = 0
) -> npt.NDArray[np.float64]:
    """Sub-frame end positions (notes,): the offset head's peak within OFFSET_SNAP_FRAMES of each end
    frame, refined by a parabola, where that peak reaches OFFSET_SNAP_FLOOR; else the end frame itself.

    Offsets are trained on the frame nearest the key (or pedal) release, so even a weak peak there places
    the end better than the frame head's last frame above threshold, which is quantised to 32 ms.
    """
    frames = offset.shape[0]
    if end.size == 0:
        return (end + origin).astype(np.float64)
    window = np.clip(end[:, None] + np.arange(-OFFSET_SNAP_FRAMES, OFFSET_SNAP_FRAMES + 1), 0, frames - 1)
    values = offset[window, keys[:, None]]
    best = window[np.arange(end.size), values.argmax(axis=1)]
    strong = values.max(axis=1) >= OFFSET_SNAP_FLOOR
    return np.where(strong, refined_peaks(offset, best, keys, origin), (end + origin).astype(np.float64))


def next_true(mask: BoolArray, times: IntArray, keys: IntArray) -> IntArray:
    """For each query i, the first frame >= times[i] where mask[:, keys[i]] holds, else ``frames``.

    mask: (frames, keys) bool; times, keys: (n,) int, with times in 0..frames. Returns (n,) int64.
    """
    frames = mask.shape[0]
    flat = np.flatnonzero(mask.T)  # sorted positions key * frames + t of every True
    times, keys = np.asarray(times, np.int64), np.asarray(keys, np.int64)
    found = np.append(flat, np.iinfo(np.int64).max)[np.searchsorted(flat, keys * frames + times)]
    return np.where(found < (keys + 1) * frames, found - keys * frames, frames)


def onset_velocities(onset: FloatArray, velocity: FloatArray, times: IntArray, keys: IntArray) -> IntArray:
    """MIDI velocities (notes,) 1..127: the velocity head around each onset, weighted by onset probability."""
    frames = onset.shape[0]
    window = times[:, None] + np.arange(-VELOCITY_RADIUS, VELOCITY_RADIUS + 1)  # (notes, 2 * radius + 1)
    rows = np.clip(window, 0, frames - 1)
    inside = (window >= 0) & (window < frames)
    weights = onset[rows, keys[:, None]].astype(np.float64) * inside
    values = velocity[rows, keys[:, None]].astype(np.float64)
    mean = (weights * values).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    return np.clip(np.rint(127.0 * mean), 1, 127).astype(np.int64)


def _checked(act: Activations) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    arrays = tuple(np.asarray(a, dtype=np.float32) for a in (act.onset, act.frame, act.offset, act.velocity))
    shape = arrays[0].shape
    level = () if act.level is None else (np.asarray(act.level),)
    if len(shape) != 2 or shape[1] != N_KEYS or any(a.shape != shape for a in arrays + level):
        shapes = ", ".join(str(a.shape) for a in arrays + level)
        raise ValueError(f"activations must all be (frames, {N_KEYS}); got {shapes}")
    return arrays  # type: ignore[return-value]
