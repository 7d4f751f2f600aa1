"""Note and frame metrics as match counts, so files can be summed (note-weighted) or scored alone.

Note metrics follow mir_eval's transcription conventions: onset within 50 ms; with offset, the offset within
20% of the reference duration or 50 ms, whichever is larger; with velocity, velocities rescaled as in
mir_eval.transcription_velocity and within 0.1. Frame metrics compare piano rolls at FRAME_HZ.
"""

from dataclasses import dataclass

import numpy as np

from piano_ai.types import Note

ONSET_TOLERANCE_S = 0.05  # seconds
OFFSET_RATIO = 0.2  # of the reference note's duration
OFFSET_MIN_TOLERANCE_S = 0.05  # seconds
FRAME_HZ = 100  # piano-roll rate for frame metrics (10 ms, as in mir_eval.multipitch)
METRICS = ("onset", "offset", "velocity", "frame")


@dataclass
class Counts:
    """True positives per metric plus reference and estimate sizes; add them up across files."""

    matched: dict[str, int]
    n_ref: dict[str, int]
    n_est: dict[str, int]

    def __add__(self, other: "Counts") -> "Counts":
        add = lambda a, b: {k: a.get(k, 0) + b.get(k, 0) for k in set(a) | set(b)}  # noqa: E731
        return Counts(
            add(self.matched, other.matched), add(self.n_ref, other.n_ref), add(self.n_est, other.n_est)
        )

    def scores(self) -> dict[str, dict[str, float]]:
        """precision, recall, f1 for each of METRICS, then any other metric counted (PEDAL_METRICS)."""
        out = {}
        extra = sorted((set(self.matched) | set(self.n_ref) | set(self.n_est)) - set(METRICS))
        for m in (*METRICS, *extra):
            tp, n_ref, n_est = self.matched.get(m, 0), self.n_ref.get(m, 0), self.n_est.get(m, 0)
            p = tp / n_est if n_est else 0.0
            r = tp / n_ref if n_ref else 0.0
            out[m] = {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}
        return out


def _arrays(notes: list[Note]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n, 2) intervals in s, (n,) pitches in Hz, (n,) velocities."""
    if not notes:
        return np.zeros((0, 2)), np.zeros(0), np.zeros(0)
    intervals = np.array([[n.start, max(n.end, n.start + 1e-3)] for n in notes])
    pitches = 440.0 * 2.0 ** ((np.array([n.pitch for n in notes]) - 69) / 12.0)
    return intervals, pitches, np.array([n.velocity for n in notes], float)


def onset_matches(ref: list[Note], est: list[Note]) -> list[tuple[int, int]]:
    """(reference index, estimate index) of the notes matched by pitch and onset alone (mir_eval)."""
    from mir_eval import transcription

    if not ref or not est:
        return []
    ri, rp, _ = _arrays(ref)
    ei, ep, _ = _arrays(est)
    return transcription.match_notes(ri, rp, ei, ep, onset_tolerance=ONSET_TOLERANCE_S, offset_ratio=None)


def offset_matches(ref: list[Note], est: list[Note]) -> list[tuple[int, int]]:
    """(reference index, estimate index) of the notes matched by pitch, onset and offset (mir_eval)."""
    from mir_eval import transcription

    if not ref or not est:
        return []
    ri, rp, _ = _arrays(ref)
    ei, ep, _ = _arrays(est)
    return transcription.match_notes(
        ri,
        rp,
        ei,
        ep,
        onset_tolerance=ONSET_TOLERANCE_S,
        offset_ratio=OFFSET_RATIO,
        offset_min_tolerance=OFFSET_MIN_TOLERANCE_S,
    )


def count_matches(ref: list[Note], est: list[Note]) -> Counts:
    """Match counts of estimated notes against reference notes for every metric."""
    from mir_eval import transcription_velocity

    ri, rp, rv = _arrays(ref)
    ei, ep, ev = _arrays(est)
    matched = {"onset": 0, "offset": 0, "velocity": 0}
    if len(ref) and len(est):
        matched["onset"] = len(onset_matches(ref, est))
        matched["offset"] = len(offset_matches(ref, est))
        matched["velocity"] = len(
            transcription_velocity.match_notes(
                ri,
                rp,
                rv,
                ei,
                ep,
                ev,
                onset_tolerance=ONSET_TOLERANCE_S,
                offset_ratio=OFFSET_RATIO,
                offset_min_tolerance=OFFSET_MIN_TOLERANCE_S,
            )
        )
    ref_roll, est_roll = _roll(ref, est)
    frame_tp = int(np.logical_and(ref_roll, est_roll).sum())
    n_ref = {m: len(ref) for m in ("onset", "offset", "velocity")} | {"frame": int(ref_roll.sum())}
    n_est = {m: len(est) for m in ("onset", "offset", "velocity")} | {"frame": int(est_roll.sum())}
    return Counts(matched | {"frame": frame_tp}, n_ref, n_est)


def _roll(ref: list[Note], est: list[Note]) -> tuple[np.ndarray, np.ndarray]:
    """Boolean (frames, 128) rolls of both note lists on a common FRAME_HZ grid."""
    end = max([n.end for n in ref + est] + [0.0])
    frames = int(np.ceil(end * FRAME_HZ)) + 1
    rolls = []
    for notes in (ref, est):
        roll = np.zeros((frames, 128), bool)
        for n in notes:
            roll[int(round(n.start * FRAME_HZ)) : int(round(n.end * FRAME_HZ)), n.pitch] = True
        rolls.append(roll)
    return rolls[0], rolls[1]
