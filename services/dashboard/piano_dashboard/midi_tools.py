"""Reading any MIDI file into plain rows: its instruments, its notes and statistics about them.

Pure functions over pretty_midi objects; nothing here touches Streamlit.
"""

import io
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pretty_midi

from piano_ai import midi_io
from piano_ai.types import Note

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


@dataclass(frozen=True)
class NoteRow:
    """One note of one track of a MIDI file."""

    track: int  # index of the instrument in the file
    pitch: int  # MIDI pitch
    start: float  # seconds
    end: float  # seconds
    velocity: int  # 1..127


def load_midi(content: bytes) -> pretty_midi.PrettyMIDI:
    """Parse a Standard MIDI File; raises ValueError with a readable reason when it is not one."""
    try:
        return pretty_midi.PrettyMIDI(io.BytesIO(content))
    except Exception as exc:  # mido/pretty_midi raise a zoo of types (EOFError, KeyError, OSError...)
        raise ValueError(f"not a readable MIDI file ({type(exc).__name__}: {exc})") from exc


def pitch_name(pitch: int) -> str:
    """Scientific pitch name, e.g. 60 -> 'C4'."""
    return str(pretty_midi.note_number_to_name(int(pitch)))


def note_rows(midi: pretty_midi.PrettyMIDI) -> list[NoteRow]:
    """Every note of every track, sorted by start time then pitch."""
    rows = [
        NoteRow(track, int(n.pitch), float(n.start), float(n.end), int(n.velocity))
        for track, instrument in enumerate(midi.instruments)
        for n in instrument.notes
    ]
    return sorted(rows, key=lambda r: (r.start, r.pitch))


def instrument_name(instrument: pretty_midi.Instrument) -> str:
    """The track name, or the General MIDI program name when the track has none."""
    if instrument.name.strip():
        return instrument.name.strip()
    if instrument.is_drum:
        return "Drums"
    return str(pretty_midi.program_to_instrument_name(instrument.program))


def instruments_table(midi: pretty_midi.PrettyMIDI) -> list[dict[str, Any]]:
    """One row per track: name, program, note count, pitch range."""
    table = []
    for track, inst in enumerate(midi.instruments):
        pitches = [n.pitch for n in inst.notes]
        program = (
            "drums"
            if inst.is_drum
            else f"{inst.program} {pretty_midi.program_to_instrument_name(inst.program)}"
        )
        table.append(
            {
                "track": track,
                "name": instrument_name(inst),
                "program": program,
                "notes": len(pitches),
                "lowest": pitch_name(min(pitches)) if pitches else "",
                "highest": pitch_name(max(pitches)) if pitches else "",
            }
        )
    return table


def max_polyphony(rows: list[NoteRow]) -> int:
    """The most notes sounding at once (a note ending exactly when another starts does not overlap)."""
    events = sorted([(r.start, 1) for r in rows] + [(r.end, -1) for r in rows])
    sounding = best = 0
    for _, change in events:
        sounding += change
        best = max(best, sounding)
    return best


def note_stats(rows: list[NoteRow]) -> dict[str, Any]:
    """Summary numbers for a list of notes: counts, timing (seconds), pitch and velocity ranges."""
    if not rows:
        return {"notes": 0}
    pitches = np.array([r.pitch for r in rows])
    velocities = np.array([r.velocity for r in rows])
    durations = np.array([r.end - r.start for r in rows])
    span = max(r.end for r in rows) - min(r.start for r in rows)
    classes = Counter(PITCH_CLASSES[p % 12] for p in pitches.tolist())
    return {
        "notes": len(rows),
        "duration_s": round(float(max(r.end for r in rows)), 2),
        "notes_per_s": round(len(rows) / span, 2) if span > 0 else float(len(rows)),
        "lowest": pitch_name(int(pitches.min())),
        "highest": pitch_name(int(pitches.max())),
        "mean_note_s": round(float(durations.mean()), 3),
        "velocity_mean": round(float(velocities.mean()), 1),
        "velocity_min": int(velocities.min()),
        "velocity_max": int(velocities.max()),
        "max_polyphony": max_polyphony(rows),
        "top_pitch_classes": ", ".join(name for name, _ in classes.most_common(3)),
    }


def _notes(rows: list[NoteRow]) -> list[Note]:
    return [Note(r.pitch, r.start, r.end, r.velocity) for r in rows]


def notes_csv(rows: list[NoteRow]) -> bytes:
    """The CLI's and the API's CSV (piano_ai.midi_io): start_s,end_s,pitch,velocity,name, one note a line."""
    return midi_io.notes_csv_text(_notes(rows)).encode()


def notes_json(rows: list[NoteRow]) -> bytes:
    """The API's notes JSON without job_id: {"notes": [{pitch, start, end, velocity}...]}, times to 0.1 ms."""
    return midi_io.notes_to_json(_notes(rows)).encode()
