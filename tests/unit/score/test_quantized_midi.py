"""The quantized MIDI file: the score's notes on the beat grid at one constant tempo, a track per staff,
the score's time and key signatures; in 6/8 the beat is a dotted quarter."""

import io
import re

import music21
import numpy as np
import pretty_midi
import pytest

from piano_ai.score.beats import Beats
from piano_ai.score.pipeline import score_notes
from piano_ai.score.quantized_midi import MAJOR_KEYS, MINOR_KEYS, TRACK_NAMES, key_name
from piano_ai.score.tempo import MIDI_RESOLUTION
from piano_ai.types import Note


def rubato(per_bar: int, compound: bool = False, count: int = 13) -> Beats:
    """Beats that slow down: 0.5 s apart, each 2% longer than the one before."""
    times = np.cumsum([0.0] + [0.5 * 1.02**i for i in range(count - 1)])
    return Beats(tuple(times), tuple(i % per_bar + 1 for i in range(count)), per_bar, True, "", compound)


def at(beats: Beats, position: float) -> float:
    """Seconds at ``position`` (in beats) on ``beats``' grid."""
    return float(np.interp(position, np.arange(len(beats.times)), beats.times))


def read(
    beats: Beats, notes: list[Note], sustain: list[tuple[float, float]] | None = None
) -> pretty_midi.PrettyMIDI:
    result = score_notes(notes, beats, beats.times[-1], "t", sustain)
    return pretty_midi.PrettyMIDI(io.BytesIO(result.quantized_midi))


# (beat position played, where the note belongs in quarter notes) on a simple and a compound grid.
@pytest.mark.parametrize(
    ("compound", "played", "quarters"),
    [
        (False, [0.02, 1.0, 2.27, 3.49, 4.74], [0.0, 1.0, 2.25, 3.5, 4.75]),  # sixteenths
        (False, [0.0, 1.0, 1.35, 1.66, 2.0], [0.0, 1.0, 4 / 3, 5 / 3, 2.0]),  # a triplet beat
        (True, [0.0, 0.34, 0.65, 1.0, 1.52], [0.0, 0.5, 1.0, 1.5, 2.25]),  # eighths and a 16th in 6/8
    ],
)
def test_notes_land_on_the_grid_at_one_tempo(
    compound: bool, played: list[float], quarters: list[float]
) -> None:
    beats = rubato(2 if compound else 4, compound)
    notes = [Note(72, at(beats, p), at(beats, p) + 0.1, 80) for p in played]
    midi = read(beats, notes)
    ticks = sorted(midi.time_to_tick(n.start) for i in midi.instruments for n in i.notes)
    assert ticks == [round(q * MIDI_RESOLUTION) for q in quarters]
    assert len(midi.get_tempo_changes()[1]) == 1  # the score's metronome mark, held throughout
    per_beat_s = float(np.median(np.diff(beats.times)))  # the mark is the median tracked beat
    beat_quarters = 1.5 if compound else 1.0
    assert 60.0 / midi.get_tempo_changes()[1][0] * beat_quarters == pytest.approx(per_beat_s, rel=1e-3)


@pytest.mark.parametrize(
    ("per_bar", "compound", "signature", "beat_unit"),
    [(3, False, (3, 4), "quarter"), (4, False, (4, 4), "quarter"), (2, True, (6, 8), "quarter")],
)
def test_signatures_match_the_musicxml(
    per_bar: int, compound: bool, signature: tuple[int, int], beat_unit: str
) -> None:
    beats = rubato(per_bar, compound)
    notes = [Note(60 + 7 * (i % 2), t, t + 0.2, 70) for i, t in enumerate(beats.times[:-1])]
    result = score_notes(notes, beats, beats.times[-1], "t")
    midi = pretty_midi.PrettyMIDI(io.BytesIO(result.quantized_midi))
    ts = midi.time_signature_changes[0]
    assert (ts.numerator, ts.denominator) == signature
    xml = result.musicxml.decode()
    assert f"<beats>{signature[0]}</beats>" in xml and f"<beat-type>{signature[1]}</beat-type>" in xml
    assert re.search(rf"<beat-unit>{beat_unit}</beat-unit>\s*(<beat-unit-dot\s*/>)?", xml)
    assert ("<beat-unit-dot" in xml) == compound  # a dotted quarter's metronome mark in 6/8
    # pretty_midi's beats of the quantized file are the constant-tempo grid: every tracked beat, evenly
    period = 60.0 / midi.get_tempo_changes()[1][0] * (1.5 if compound else 1.0)
    np.testing.assert_allclose(np.diff(midi.get_beats())[:4], period, rtol=1e-6)


def test_a_track_per_staff_with_the_pedal_and_key() -> None:
    beats = rubato(4)
    notes = [Note(43, at(beats, b), at(beats, b) + 0.4, 70) for b in range(8)]  # G2: left hand
    notes += [Note(p, at(beats, b), at(beats, b) + 0.4, 80) for b, p in enumerate([79, 78, 76, 74, 71, 67])]
    pedal_s = (at(beats, 0.5), at(beats, 2.25))
    result = score_notes(notes, beats, beats.times[-1], "t", [pedal_s])
    midi = pretty_midi.PrettyMIDI(io.BytesIO(result.quantized_midi))
    assert [i.name for i in midi.instruments] == list(TRACK_NAMES)
    right, left = midi.instruments
    assert {n.pitch for n in left.notes} == {43} and {n.pitch for n in right.notes} == {
        79,
        78,
        76,
        74,
        71,
        67,
    }
    pedal = [(midi.time_to_tick(c.time), c.value) for c in left.control_changes if c.number == 64]
    assert pedal == [(MIDI_RESOLUTION // 2, 127), (MIDI_RESOLUTION * 9 // 4, 0)]  # in beats, as played
    tonic, mode = result.key.split()
    expected = pretty_midi.key_name_to_key_number(f"{tonic.replace('-', 'b')} {mode.capitalize()}")
    assert midi.key_signature_changes[0].key_number == expected


@pytest.mark.parametrize(
    ("key", "name"),
    [("C", "C"), ("a", "Am"), ("E-", "Eb"), ("f#", "F#m"), ("C#", "C#"), ("a-", "Abm"), ("D#", None)],
)
def test_key_names(key: str, name: str | None) -> None:
    assert key_name(music21.key.Key(key)) == name
    assert len(MAJOR_KEYS) == len(MINOR_KEYS) == 15
