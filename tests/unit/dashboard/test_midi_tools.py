"""MIDI reading, statistics and exports used by the result views."""

import json

import pytest

from piano_ai import midi_io
from piano_ai.types import Note
from piano_dashboard import midi_tools
from piano_dashboard.midi_tools import NoteRow


def test_note_rows_instruments_and_stats_of_a_real_file(small_midi):
    midi = midi_tools.load_midi(small_midi)
    rows = midi_tools.note_rows(midi)
    assert [r.pitch for r in rows] == [60, 64, 67, 72]
    assert midi_tools.instruments_table(midi) == [
        {
            "track": 0,
            "name": "Piano",
            "program": "0 Acoustic Grand Piano",
            "notes": 4,
            "lowest": "C4",
            "highest": "C5",
        }
    ]
    stats = midi_tools.note_stats(rows)
    assert stats["notes"] == 4 and stats["max_polyphony"] == 2
    assert stats["duration_s"] == pytest.approx(1.25)
    assert stats["top_pitch_classes"].startswith("C")


@pytest.mark.parametrize(
    ("spans", "expected"),
    [
        ([], 0),
        ([(0.0, 1.0)], 1),
        ([(0.0, 1.0), (1.0, 2.0)], 1),  # touching notes do not overlap
        ([(0.0, 2.0), (0.5, 1.0), (0.6, 0.9)], 3),
    ],
)
def test_max_polyphony(spans, expected):
    rows = [NoteRow(0, 60 + i, start, end, 64) for i, (start, end) in enumerate(spans)]
    assert midi_tools.max_polyphony(rows) == expected


def test_csv_and_json_exports_match_the_cli_and_the_api():
    rows = [NoteRow(0, 60, 0.0, 0.5, 90), NoteRow(1, 64, 0.123456789, 1.0000001, 70)]
    notes = [Note(60, 0.0, 0.5, 90), Note(64, 0.123456789, 1.0000001, 70)]
    assert midi_tools.notes_csv(rows).decode() == midi_io.notes_csv_text(notes)
    assert midi_tools.notes_csv(rows).decode().splitlines() == [
        "start_s,end_s,pitch,velocity,name",
        "0.0000,0.5000,60,90,C4",
        "0.1235,1.0000,64,70,E4",
    ]
    assert json.loads(midi_tools.notes_json(rows))["notes"][1] == {
        "pitch": 64,
        "start": 0.1235,
        "end": 1.0,
        "velocity": 70,
    }


def test_bytes_that_are_not_midi_raise_value_error():
    with pytest.raises(ValueError, match="not a readable MIDI file"):
        midi_tools.load_midi(b"not midi at all")
