"""Pedal conventions for scoring: note ends at key release, and the sustain pedal itself.

The default metrics (piano_ai.evaluation.metrics) compare notes extended by the sustain pedal, the MAESTRO
convention. When a reference carries CC64 two more things can be scored:

- ``release_offset``: onset + offset F1 with notes ending at key release on both sides (no pedal extension);
  a system that does not tell key release from sound end is scored with the notes it writes;
- ``pedal_frame``: sustain-pedal down/up F1 on frames at the model's rate (FRAMES_PER_SECOND), between the
  estimate's CC64 and the reference's, only when the estimate writes CC64 at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from piano_ai.constants import FRAMES_PER_SECOND
from piano_ai.data.targets import SUSTAIN_CC, sustain_intervals
from piano_ai.evaluation.metrics import Counts, offset_matches
from piano_ai.types import Note

if TYPE_CHECKING:
    import pretty_midi

PEDAL_METRICS = ("release_offset", "pedal_frame")
Intervals = list[tuple[float, float]]  # (down, up) in seconds; up may be inf (never lifted)


def sustain(midi: pretty_midi.PrettyMIDI) -> Intervals | None:
    """(down, up) times of the sustain pedal over every non-drum track, or None when no CC64 is written."""
    ccs = [c for i in midi.instruments if not i.is_drum for c in i.control_changes if c.number == SUSTAIN_CC]
    return sustain_intervals(ccs) if ccs else None


def pedal_roll(intervals: Intervals, frames: int) -> npt.NDArray[np.bool_]:
    """(frames,) True where the pedal is down; frame t covers [t, t + 1) / FRAMES_PER_SECOND seconds."""
    roll = np.zeros(frames, bool)
    for down, up in intervals:
        last = frames if np.isinf(up) else int(round(up * FRAMES_PER_SECOND))
        roll[int(round(down * FRAMES_PER_SECOND)) : last] = True
    return roll


def pedal_counts(ref: Intervals, est: Intervals, end_s: float) -> Counts:
    """``pedal_frame`` counts: frames with the pedal down in both, in the reference, in the estimate.

    ``end_s`` is the length scored (a pedal never lifted is down until then); later pedal times count too.
    """
    finite = [t for down, up in ref + est for t in (down, up) if np.isfinite(t)]
    frames = int(np.ceil(max([end_s, *finite]) * FRAMES_PER_SECOND)) + 1
    ref_roll, est_roll = pedal_roll(ref, frames), pedal_roll(est, frames)
    return Counts(
        {"pedal_frame": int(np.logical_and(ref_roll, est_roll).sum())},
        {"pedal_frame": int(ref_roll.sum())},
        {"pedal_frame": int(est_roll.sum())},
    )


def release_counts(ref: list[Note], est: list[Note]) -> Counts:
    """``release_offset`` counts: onset + offset matches (mir_eval tolerances) of key-release notes."""
    matched = len(offset_matches(ref, est))
    return Counts({"release_offset": matched}, {"release_offset": len(ref)}, {"release_offset": len(est)})
