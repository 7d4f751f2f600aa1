"""Pedal marks: the sustain pedal read from a MIDI file's CC64, placed on the beat grid, attached to the
chords it holds, and written as MusicXML pedal marks (Ped. ... *); a MIDI file re-timed on the tempo map
keeps its pedal where it was in seconds."""

import io
import math
import re
from fractions import Fraction as F

import music21
import numpy as np
import pretty_midi
import pytest

from piano_ai.midi_io import midi_bytes
from piano_ai.score.beats import Beats
from piano_ai.score.pedal import pedal_groups, sustain_beats, sustain_of_midi
from piano_ai.score.pipeline import score_notes
from piano_ai.score.tempo import retime_midi, tempo_map
from piano_ai.types import Note

STEADY = Beats(tuple(0.5 * i for i in range(17)), tuple(i % 4 + 1 for i in range(17)), 4, True)  # 120 bpm
# Left hand on every beat, right hand on every other beat: 8 s, four 4/4 bars.
NOTES = [Note(48, 0.5 * i, 0.5 * i + 0.45, 80) for i in range(16)] + [
    Note(72, 1.0 * i, 1.0 * i + 0.9, 80) for i in range(8)
]


def with_pedal(notes: list[Note], events: list[tuple[float, int]]) -> bytes:
    """``notes`` as a MIDI file with CC64 (time s, value) events on the piano track."""
    midi = pretty_midi.PrettyMIDI(io.BytesIO(midi_bytes(notes)))
    midi.instruments[0].control_changes += [pretty_midi.ControlChange(64, v, t) for t, v in events]
    buffer = io.BytesIO()
    midi.write(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("events", "intervals"),
    [
        ([], []),  # no CC64: no pedal
        ([(0.1, 127), (1.9, 0)], [(0.1, 1.9)]),
        ([(0.1, 100), (0.5, 90), (1.0, 20), (2.0, 64), (3.0, 63)], [(0.1, 1.0), (2.0, 3.0)]),  # 64 is down
        ([(4.0, 127)], [(4.0, math.inf)]),  # never lifted
    ],
)
def test_sustain_of_midi(events: list[tuple[float, int]], intervals: list[tuple[float, float]]) -> None:
    np.testing.assert_allclose(sustain_of_midi(with_pedal(NOTES, events)), intervals, atol=1e-3)


def test_sustain_beats_follow_the_tempo_map() -> None:
    tempo = tempo_map(STEADY, 8.0)
    assert sustain_beats([(0.25, 1.5), (7.0, math.inf)], tempo) == [(0.5, 3.0), (14.0, math.inf)]


@pytest.mark.parametrize(
    ("onsets", "pedals", "groups"),
    [
        ([F(0), F(1), F(2), F(3)], [], []),
        # pressed with the chord, lifted as the third is struck ("direct" pedalling)
        ([F(0), F(1), F(2), F(3)], [(0.0, 2.0)], [[0, 1]]),
        # legato pedalling: pressed just after each chord, changed just after the next one
        ([F(0), F(1), F(2), F(3)], [(0.2, 2.1), (2.3, 4.0)], [[0, 1], [2, 3]]),
        # a pedal pressed and lifted between chords holds none
        ([F(0), F(2)], [(0.6, 1.4)], []),
        # a pedal never lifted holds every chord from its chord on
        ([F(0), F(1), F(2)], [(1.0, math.inf)], [[1, 2]]),
        # overlapping intervals: a chord is held by one pedal only
        ([F(0), F(1)], [(0.0, 3.0), (0.5, 3.0)], [[0, 1]]),
    ],
)
def test_pedal_groups(onsets: list[F], pedals: list[tuple[float, float]], groups: list[list[int]]) -> None:
    assert pedal_groups(onsets, pedals) == groups


@pytest.mark.parametrize(
    ("events", "marks"),
    [
        ([], 0),
        ([(0.1, 127), (1.9, 0)], 1),  # bar 1: one Ped. ... *
        ([(0.1, 127), (1.95, 0), (2.1, 127), (3.95, 0), (4.1, 127), (6.0, 0)], 3),  # pedal changed each bar
        ([(7.9, 127)], 0),  # pressed after the last chord: holds nothing, no mark
    ],
)
def test_musicxml_pedal_marks(events: list[tuple[float, int]], marks: int) -> None:
    result = score_notes(NOTES, STEADY, 8.0, "t", sustain_of_midi(with_pedal(NOTES, events)))
    xml = result.musicxml.decode()
    assert result.pedal_marks == marks
    assert len(re.findall(r'<pedal [^>]*type="start"', xml)) == marks
    assert len(re.findall(r'<pedal [^>]*type="stop"', xml)) == marks
    assert xml.count('sign="yes"') == 2 * marks  # "Ped." and "*", not lines


def test_marks_hold_the_bass_chords_their_pedal_holds() -> None:
    xml = score_notes(NOTES, STEADY, 8.0, "t", [(0.1, 1.9), (2.1, 3.9)]).musicxml
    score = music21.converter.parseData(xml.decode())
    marks = list(score.spannerBundle.getByClass("PedalMark"))
    spans = [
        (m.getFirst().getOffsetInHierarchy(score), m.getLast().getOffsetInHierarchy(score)) for m in marks
    ]
    assert spans == [(0.0, 3.0), (4.0, 7.0)]  # beats: Ped. under the bar's first chord, * after its last
    bass = score.parts[1]
    assert all(m.getFirst() in bass.recurse() for m in marks)


def test_retimed_midi_keeps_notes_and_pedal_in_seconds_on_the_tracked_beats() -> None:
    rubato = Beats((0.3, 0.85, 1.5, 2.0, 2.7, 3.2, 3.8), (1, 2, 3, 1, 2, 3, 1), 3, True)
    notes = [Note(60 + i, 0.3 + 0.45 * i, 0.6 + 0.45 * i, 70) for i in range(9)]  # to 4.2 s
    plain = with_pedal(notes, [(0.35, 127), (1.45, 0), (2.05, 127), (3.5, 0)])
    tempo = tempo_map(rubato, 4.0)
    retimed = pretty_midi.PrettyMIDI(io.BytesIO(retime_midi(plain, tempo)))
    np.testing.assert_allclose(retimed.get_beats()[1:8], rubato.times, atol=1e-5)
    np.testing.assert_allclose(retimed.get_downbeats()[1:4], rubato.downbeats, atol=1e-5)
    np.testing.assert_allclose(
        [n.start for n in retimed.instruments[0].notes], [n.start for n in notes], atol=1e-3
    )
    np.testing.assert_allclose(sustain_of_midi(retime_midi(plain, tempo)), sustain_of_midi(plain), atol=1e-3)
