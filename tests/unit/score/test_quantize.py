"""Quantization to the beat grid: tables of performed onsets (in beats) and what they become."""

from fractions import Fraction as F

import pytest

from piano_ai.score.beats import Beats
from piano_ai.score.quantize import DUPLE, TRIPLE, Chord, QNote, beat_divisions, chords, quantize, snap
from piano_ai.score.tempo import tempo_map
from piano_ai.types import Note


@pytest.mark.parametrize(
    ("onsets", "expected"),
    [
        ([0.0], {0: DUPLE}),  # one onset on the beat: sixteenths, the common case
        ([0.02, 0.26, 0.49, 0.77], {0: DUPLE}),  # four played sixteenths
        ([0.0, 0.34, 0.65], {0: TRIPLE}),  # three played triplet eighths
        ([0.0, 0.5], {0: DUPLE}),  # eighths fit both grids' neighbourhoods: duple
        ([1.0, 1.36, 1.69, 2.01, 2.52], {1: TRIPLE, 2: DUPLE}),  # a triplet beat, then eighths
        ([0.93], {1: DUPLE}),  # a little early: belongs to the next beat
        ([0.0, 0.28], {0: DUPLE}),  # between 1/4 and 1/3, nearer 1/4
        ([0.0, 0.3], {0: TRIPLE}),  # between 1/4 and 1/3, nearer 1/3
    ],
)
def test_beat_divisions(onsets: list[float], expected: dict[int, int]) -> None:
    assert beat_divisions(onsets) == expected


@pytest.mark.parametrize(
    ("position", "division", "expected"),
    [
        (0.0, DUPLE, F(0)),
        (0.13, DUPLE, F(1, 4)),
        (0.3, TRIPLE, F(1, 3)),
        (0.9, TRIPLE, F(1)),
        (2.6, DUPLE, F(5, 2)),
    ],
)
def test_snap(position: float, division: int, expected: F) -> None:
    assert snap(position, division) == expected


# Beats every 0.5 s from 0 s: one beat = 0.5 s = one quarter note.
STEADY = tempo_map(Beats(tuple(0.5 * i for i in range(9)), tuple(i % 4 + 1 for i in range(9)), 4, True), 4.5)


@pytest.mark.parametrize(
    ("start", "end", "onset", "duration"),
    [
        (0.01, 0.49, F(0), F(1)),  # a quarter played a little late and short
        (0.52, 0.61, F(1), F(1, 4)),  # a staccato quarter becomes a sixteenth
        (1.0, 1.01, F(2), F(1, 4)),  # shorter than a sixteenth: one sixteenth
        (1.13, 2.0, F(9, 4), F(7, 4)),  # off-beat sixteenth held to beat 4
        (3.98, 4.5, F(8), F(1)),  # just before the bar line: on it
    ],
)
def test_quantize_steady_beat(start: float, end: float, onset: F, duration: F) -> None:
    assert quantize([Note(60, start, end, 70)], STEADY) == [QNote(60, onset, duration, 70)]


def test_quantize_follows_the_tracked_tempo() -> None:
    rubato = tempo_map(Beats((0.0, 0.4, 1.0, 1.9), (1, 2, 3, 1), 3, True), 2.0)
    notes = [Note(60, 0.2, 0.4, 60), Note(62, 0.7, 1.0, 60), Note(64, 1.45, 1.9, 60)]  # each mid-beat
    assert [(q.onset, q.duration) for q in quantize(notes, rubato)] == [(F(1, 2), F(1, 2))] * 1 + [
        (F(3, 2), F(1, 2)),
        (F(5, 2), F(1, 2)),
    ]


def test_triplets_within_a_beat() -> None:
    notes = [Note(60 + i, 1.0 + i / 6, 1.0 + (i + 1) / 6, 70) for i in range(3)]  # three even notes in beat 2
    assert [(q.onset, q.duration) for q in quantize(notes, STEADY)] == [
        (F(2), F(1, 3)),
        (F(7, 3), F(1, 3)),
        (F(8, 3), F(1, 3)),
    ]


def test_no_notes() -> None:
    assert quantize([], STEADY) == []


@pytest.mark.parametrize(
    ("notes", "expected"),
    [
        (  # a chord struck together: one chord, as long as its longest note
            [QNote(60, F(0), F(1), 60), QNote(64, F(0), F(2), 80)],
            [Chord((60, 64), F(0), F(2), 80)],
        ),
        (  # a held note overlapping the next onset (legato, pedal) is cut there
            [QNote(60, F(0), F(3), 60), QNote(62, F(1), F(1), 60)],
            [Chord((60,), F(0), F(1), 60), Chord((62,), F(1), F(1), 60)],
        ),
        (  # a gap stays a gap (a rest is written there)
            [QNote(60, F(0), F(1, 2), 60), QNote(62, F(2), F(1), 60)],
            [Chord((60,), F(0), F(1, 2), 60), Chord((62,), F(2), F(1), 60)],
        ),
        (
            [QNote(60, F(0), F(1), 60), QNote(60, F(0), F(1, 2), 90)],
            [Chord((60,), F(0), F(1), 90)],
        ),  # doubled
    ],
)
def test_chords(notes: list[QNote], expected: list[Chord]) -> None:
    assert chords(notes) == expected


def test_sixteenths_only() -> None:
    notes = [Note(60 + i, 1.0 + i / 6, 1.0 + (i + 1) / 6, 70) for i in range(3)]
    assert [q.onset for q in quantize(notes, STEADY, divisions=(DUPLE,))] == [F(2), F(9, 4), F(11, 4)]
