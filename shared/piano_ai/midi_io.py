"""Notes to and from files: MIDI (pretty_midi), CSV and JSON note events."""

import csv
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pretty_midi

from piano_ai.constants import HIGHEST_KEY, LOWEST_KEY
from piano_ai.types import Note

PIANO_PROGRAM = 0  # General MIDI program 0: Acoustic Grand Piano
CSV_COLUMNS = ("start_s", "end_s", "pitch", "velocity", "name")
TIME_DECIMALS = 4  # seconds in CSV/JSON are rounded to 0.1 ms
MIDI_RESOLUTION = 960  # ticks per beat; at the default 120 bpm one tick is 0.52 ms


def notes_to_midi(notes: Iterable[Note]) -> pretty_midi.PrettyMIDI:
    """One Acoustic Grand Piano track holding ``notes`` (times in seconds)."""
    midi = pretty_midi.PrettyMIDI(resolution=MIDI_RESOLUTION)
    piano = pretty_midi.Instrument(program=PIANO_PROGRAM, name="Acoustic Grand Piano")
    piano.notes = [
        pretty_midi.Note(velocity=int(n.velocity), pitch=int(n.pitch), start=float(n.start), end=float(n.end))
        for n in notes
    ]
    midi.instruments.append(piano)
    return midi


def write_midi(notes: Iterable[Note], path: str | Path) -> Path:
    """Write ``notes`` as a standard MIDI file; returns the path."""
    path = Path(path)
    notes_to_midi(notes).write(str(path))
    return path


def midi_to_notes(path: str | Path) -> list[Note]:
    """Notes of every non-drum track of any MIDI file, sorted by (start, pitch).

    Notes outside the piano's range (A0..C8) and of zero length are dropped; the sustain pedal is
    not applied (see piano_ai.data.targets.pedal_extended_notes for that).
    """
    try:
        midi = pretty_midi.PrettyMIDI(str(path))
    except Exception as exc:  # pretty_midi/mido raise many types for a bad file
        raise ValueError(f"{path}: not a readable MIDI file ({exc})") from exc
    notes = [
        Note(int(n.pitch), float(n.start), float(n.end), int(n.velocity))
        for instrument in midi.instruments
        if not instrument.is_drum
        for n in instrument.notes
        if LOWEST_KEY <= n.pitch <= HIGHEST_KEY and n.end > n.start
    ]
    notes.sort(key=lambda n: (n.start, n.pitch))
    return notes


def note_to_dict(note: Note) -> dict[str, Any]:
    """{"pitch", "start", "end", "velocity"}: the API's note event shape."""
    return {
        "pitch": note.pitch,
        "start": round(note.start, TIME_DECIMALS),
        "end": round(note.end, TIME_DECIMALS),
        "velocity": note.velocity,
    }


def notes_from_dicts(items: Iterable[dict[str, Any]]) -> list[Note]:
    """The inverse of note_to_dict."""
    return [Note(int(d["pitch"]), float(d["start"]), float(d["end"]), int(d["velocity"])) for d in items]


def notes_to_json(notes: Iterable[Note]) -> str:
    """JSON text {"notes": [{"pitch", "start", "end", "velocity"}, ...]}."""
    return json.dumps({"notes": [note_to_dict(n) for n in notes]}, indent=1)


def write_json(notes: Iterable[Note], path: str | Path) -> Path:
    path = Path(path)
    path.write_text(notes_to_json(notes) + "\n", encoding="utf-8")
    return path


def notes_to_csv(notes: Iterable[Note], path: str | Path) -> Path:
    """Write one row per note: start_s,end_s,pitch,velocity,name (name like C4, with a header row)."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for n in notes:
            writer.writerow(
                [
                    f"{n.start:.{TIME_DECIMALS}f}",
                    f"{n.end:.{TIME_DECIMALS}f}",
                    n.pitch,
                    n.velocity,
                    pretty_midi.note_number_to_name(n.pitch),
                ]
            )
    return path
