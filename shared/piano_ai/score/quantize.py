"""Notes on the beat grid: onsets and ends in quarter notes (one tracked beat = one quarter, or a dotted
quarter in a compound meter), each beat divided in sixteenths or in triplet eighths, whichever fits its
onsets (a compound beat: in sixteenths, three or six of them); then chords merged and overlaps cleaned so
each staff reads as one voice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from piano_ai.score.tempo import TempoMap
from piano_ai.types import Note

DUPLE = 4  # sixteenths per beat
TRIPLE = 3  # triplet eighths per beat
DIVISIONS = (DUPLE, TRIPLE)
COMPOUND_DIVISIONS = (6,)  # sixteenths per compound beat (a dotted quarter): its eighths fall on them too
# A beat goes triplet when its onsets miss the triplet grid by less than TRIPLET_MARGIN x the sixteenth grid
# (summed over its onsets). On a quarter of ASAP's training pieces, quantized on their annotated beats, 1.0
# put the most onsets on the score's positions (0.747 / 0.758 / 0.765 / 0.767 / 0.762 / 0.748 of them at
# 0.4 / 0.6 / 0.8 / 1.0 / 1.2 / 1.5).
TRIPLET_MARGIN = 1.0
EARLY_FRACTION = 1 / 8  # an onset this close before a beat (in beats) belongs to that beat


@dataclass(frozen=True)
class QNote:
    """A quantized note: times in quarter notes from grid beat 0 (0 s)."""

    pitch: int  # MIDI pitch
    onset: Fraction
    duration: Fraction  # > 0
    velocity: int

    @property
    def end(self) -> Fraction:
        return self.onset + self.duration


@dataclass(frozen=True)
class Chord:
    """Notes struck together in one staff, lasting until the staff's next chord at most."""

    pitches: tuple[int, ...]  # ascending
    onset: Fraction
    duration: Fraction
    velocity: int  # the loudest note's


def quantize(notes: Iterable[Note], tempo: TempoMap, divisions: tuple[int, ...] | None = None) -> list[QNote]:
    """Quantize performed notes (seconds) to ``tempo``'s beat grid, sorted by (onset, pitch); times in
    quarter notes.

    ``divisions``: the ways a beat may be divided (`make bench-score` also measures sixteenths alone);
    default DIVISIONS, or COMPOUND_DIVISIONS when ``tempo`` is compound.
    """
    notes = list(notes)
    if not notes:
        return []
    if divisions is None:
        divisions = COMPOUND_DIVISIONS if tempo.compound else DIVISIONS
    onsets = tempo.beat_positions([n.start for n in notes])
    ends = tempo.beat_positions([n.end for n in notes])
    division = beat_divisions(onsets, divisions)
    fallback, unit = divisions[0], tempo.beat_quarters
    out = []
    for note, onset, end in zip(notes, onsets, ends, strict=True):
        q_onset = snap(onset, division.get(_beat_of(onset), fallback))
        step = Fraction(1, division.get(_beat_of(onset), fallback))
        q_end = max(snap(end, division.get(_beat_of(end), fallback)), q_onset + step)
        out.append(QNote(note.pitch, q_onset * unit, (q_end - q_onset) * unit, note.velocity))
    return sorted(out, key=lambda q: (q.onset, q.pitch))


def beat_divisions(onsets: Iterable[float], divisions: tuple[int, ...] = DIVISIONS) -> dict[int, int]:
    """beat index -> DUPLE or TRIPLE for every beat holding an onset (positions in beats).

    A beat is divided in triplets when its onsets sit closer to the triplet grid than to the sixteenth
    grid; ties (a single on-beat onset) stay duple, the common case. With one division (a compound beat's),
    every beat gets that one.
    """
    if len(divisions) == 1:
        return {_beat_of(position): divisions[0] for position in onsets}
    by_beat: dict[int, list[float]] = {}
    for position in onsets:
        beat = _beat_of(position)
        by_beat.setdefault(beat, []).append(position - beat)
    out = {}
    for beat, offsets in by_beat.items():
        miss = {d: sum(abs(f - round(f * d) / d) for f in offsets) for d in divisions}
        triple = TRIPLE in miss and (DUPLE not in miss or miss[TRIPLE] < TRIPLET_MARGIN * miss[DUPLE])
        out[beat] = TRIPLE if triple else DUPLE
    return out


def snap(position: float, division: int) -> Fraction:
    """``position`` (beats) to the nearest 1/division of a beat."""
    return Fraction(int(round(position * division)), division)


def chords(notes: Iterable[QNote]) -> list[Chord]:
    """One staff's notes as a single voice: notes with the same onset merged into a chord lasting as long
    as its longest note, cut at the next chord's onset (legato and pedal overlaps are not written)."""
    groups: dict[Fraction, list[QNote]] = {}
    for n in notes:
        groups.setdefault(n.onset, []).append(n)
    onsets = sorted(groups)
    out = []
    for i, onset in enumerate(onsets):
        members = groups[onset]
        end = max(n.end for n in members)
        if i + 1 < len(onsets):
            end = min(end, onsets[i + 1])
        pitches = tuple(sorted({n.pitch for n in members}))
        out.append(Chord(pitches, onset, end - onset, max(n.velocity for n in members)))
    return out


def _beat_of(position: float) -> int:
    return int(np.floor(position + EARLY_FRACTION))
