"""Notes through MIDI, CSV and JSON and back."""

import csv
import json
from pathlib import Path

import mido
import numpy as np
import pretty_midi
import pytest

from piano_ai.midi_io import (
    CSV_COLUMNS,
    midi_to_notes,
    notes_from_dicts,
    notes_to_csv,
    notes_to_json,
    notes_to_midi,
    write_json,
    write_midi,
)
from piano_ai.types import Note

NOTES = [
    Note(60, 0.5, 1.0, 80),
    Note(64, 0.5, 1.25, 64),
    Note(21, 1.1234, 3.0, 1),
    Note(108, 2.0, 2.05, 127),
    Note(60, 1.0, 1.5, 100),  # the same key struck again right at the first one's end
]


def test_midi_round_trip(tmp_path: Path) -> None:
    path = write_midi(NOTES, tmp_path / "out.mid")
    back = midi_to_notes(path)
    expected = sorted(NOTES, key=lambda n: (n.start, n.pitch))
    assert [(n.pitch, n.velocity) for n in back] == [(n.pitch, n.velocity) for n in expected]
    for got, want in zip(back, expected, strict=True):
        assert got.start == pytest.approx(want.start, abs=1e-3)
        assert got.end == pytest.approx(want.end, abs=1e-3)


def test_midi_is_one_piano_track() -> None:
    midi = notes_to_midi(NOTES)
    assert len(midi.instruments) == 1
    piano = midi.instruments[0]
    assert piano.program == 0 and not piano.is_drum and len(piano.notes) == len(NOTES)


def test_empty_notes_make_a_valid_midi_file(tmp_path: Path) -> None:
    assert midi_to_notes(write_midi([], tmp_path / "empty.mid")) == []


def test_reading_any_midi_skips_drums_and_keys_outside_the_piano(tmp_path: Path) -> None:
    midi = pretty_midi.PrettyMIDI()
    strings = pretty_midi.Instrument(program=48)
    strings.notes += [pretty_midi.Note(90, 55, 0.0, 1.0), pretty_midi.Note(90, 12, 0.0, 1.0)]  # 12 < A0
    drums = pretty_midi.Instrument(program=0, is_drum=True)
    drums.notes.append(pretty_midi.Note(100, 36, 0.0, 0.1))
    midi.instruments += [strings, drums]
    path = tmp_path / "band.mid"
    midi.write(str(path))
    assert [(n.pitch, n.velocity) for n in midi_to_notes(path)] == [(55, 90)]


def test_unreadable_midi(tmp_path: Path) -> None:
    path = tmp_path / "bad.mid"
    path.write_text("not midi")
    with pytest.raises(ValueError, match="bad.mid: not a readable MIDI file"):
        midi_to_notes(path)


def test_csv(tmp_path: Path) -> None:
    path = notes_to_csv(NOTES[:2], tmp_path / "notes.csv")
    with path.open() as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[1] == ["0.5000", "1.0000", "60", "80", "C4"]
    assert rows[2][-1] == "E4"


def test_json_round_trip(tmp_path: Path) -> None:
    text = notes_to_json(NOTES)
    items = json.loads(text)["notes"]
    assert items[0] == {"pitch": 60, "start": 0.5, "end": 1.0, "velocity": 80}
    assert notes_from_dicts(items) == NOTES
    path = write_json(NOTES, tmp_path / "notes.json")
    assert json.loads(path.read_text()) == json.loads(text)


def test_direct_writer_matches_pretty_midi(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    notes = [
        Note(
            int(rng.integers(21, 109)), round(t * 0.05, 4), round(t * 0.05 + rng.uniform(0.01, 2), 4), int(v)
        )
        for t, v in enumerate(rng.integers(1, 128, 500))
    ]
    ours = midi_to_notes(write_midi(notes, tmp_path / "ours.mid"))
    notes_to_midi(notes).write(str(tmp_path / "theirs.mid"))
    assert ours == midi_to_notes(tmp_path / "theirs.mid")
    assert mido.MidiFile(tmp_path / "ours.mid").tracks[1][0].name == "Acoustic Grand Piano"


def test_tiny_notes_last_a_tick_and_restrikes_sound_again(tmp_path: Path) -> None:
    notes = [Note(60, 1.0, 1.0001, 90), Note(62, 0.0, 0.5, 50), Note(62, 0.5, 0.7, 60)]
    back = midi_to_notes(write_midi(notes, tmp_path / "edge.mid"))
    assert [(n.pitch, n.velocity) for n in back] == [(62, 50), (62, 60), (60, 90)]
    assert back[2].end > back[2].start
    assert back[0].end == pytest.approx(0.5, abs=1e-3) and back[1].start == pytest.approx(0.5, abs=1e-3)
