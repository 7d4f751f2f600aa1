"""Compound meter (6/8): tracked beats that the notes divide in three are dotted quarters.

The beat tracker (beats.py) decides how many beats make a bar (3 or 4) but not what a beat is divided in.
A 6/8 piece tracked at the level of its dotted quarters reads as bars of 4 (two 6/8 bars) with every beat in
triplets; written in 4/4 it is a page of triplet brackets. So, on the tracked beats, each beat holding an
off-beat note onset votes duple (sixteenths fit its onsets best) or triple (triplet eighths do; the choice
quantize.beat_divisions makes); when at least COMPOUND_SHARE of those beats are triple, the meter is
compound: a beat is a dotted quarter divided in eighths, 2 beats a bar are 6/8 (madmom's bars of 4 are cut
in two bars of 6/8), 3 are 9/8. A 6/8 piece tracked at the level of its eighths (bars of 3 fast beats,
divided in two) is not told from a fast 3/4 here: it stays 3/4.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from piano_ai.score.beats import Beats, distinct_onsets
from piano_ai.score.quantize import DIVISIONS, EARLY_FRACTION, TRIPLE, beat_divisions
from piano_ai.score.tempo import tempo_map
from piano_ai.types import Note

# The share of subdivided beats that must be triple for a compound meter. Chosen on ASAP *training* pieces,
# on their annotated beats (docs/score.md): compound-meter pieces mostly sit above it, simple ones below.
COMPOUND_SHARE = 0.5
MIN_SUBDIVIDED = (
    8  # fewer beats with an off-beat onset than this: too little evidence, the meter stays simple
)
OFFBEAT = 1 / 8  # an onset further than this (in beats) from its beat is off the beat
COMPOUND_BAR = {2: 2, 4: 2, 3: 3}  # tracked beats per bar -> compound beats per bar: 6/8, 6/8 (cut), 9/8


def triple_share(beats: Beats, notes: Iterable[Note]) -> tuple[float, int]:
    """(share of subdivided beats whose onsets fit triplets best, how many beats are subdivided).

    A beat is subdivided when it holds a note onset more than OFFBEAT from the beat itself.
    """
    if len(beats.times) < 2:
        return 0.0, 0
    onsets = distinct_onsets(list(notes))
    if not onsets:
        return 0.0, 0
    grid = tempo_map(Beats(beats.times, beats.positions, beats.beats_per_bar, True), max(onsets))
    positions = grid.beat_positions(onsets)
    divisions = beat_divisions(positions, DIVISIONS)
    subdivided = {_beat(p) for p in positions if p - _beat(p) > OFFBEAT}
    if not subdivided:
        return 0.0, 0
    triple = sum(divisions[beat] == TRIPLE for beat in subdivided)
    return triple / len(subdivided), len(subdivided)


def with_meter(beats: Beats, notes: Iterable[Note]) -> Beats:
    """``beats`` as a compound meter when the notes divide them in three (COMPOUND_SHARE), else unchanged.

    A compound bar of 2 beats is 6/8: tracked bars of 4 are cut in two, beat 3 becoming a downbeat.
    """
    if not beats.found or beats.compound or beats.beats_per_bar not in COMPOUND_BAR:
        return beats
    share, count = triple_share(beats, notes)
    if count < MIN_SUBDIVIDED or share < COMPOUND_SHARE:
        return beats
    per_bar = COMPOUND_BAR[beats.beats_per_bar]
    positions = tuple((p - 1) % per_bar + 1 for p in beats.positions)
    return Beats(beats.times, positions, per_bar, beats.found, beats.note, compound=True)


def _beat(position: float) -> int:
    """The beat an onset at ``position`` (beats) belongs to, as quantize.beat_divisions counts it."""
    return math.floor(position + EARLY_FRACTION)
