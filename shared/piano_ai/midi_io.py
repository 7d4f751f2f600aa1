"""Notes to and from files: MIDI, CSV and JSON note events.

MIDI files are written by a small direct encoder (midi_bytes), ~20x faster than pretty_midi's writer on a
dense piece; pretty_midi reads them (midi_to_notes) and builds in-memory objects (notes_to_midi).
"""

import csv
import io
import json
import struct
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pretty_midi

from piano_ai.constants import HIGHEST_KEY, LOWEST_KEY
from piano_ai.types import Note

if TYPE_CHECKING:
    from piano_ai.pedal import Intervals
    from piano_ai.score.tempo import TempoMap

PIANO_PROGRAM = 0  # General MIDI program 0: Acoustic Grand Piano
SUSTAIN_CC = 64  # MIDI controller of the sustain (damper) pedal
CSV_COLUMNS = ("start_s", "end_s", "pitch", "velocity", "name")
TIME_DECIMALS = 4  # seconds in CSV/JSON are rounded to 0.1 ms
MIDI_RESOLUTION = 960  # ticks per beat; at the default 120 bpm one tick is 0.52 ms
MIDI_TEMPO_US = 500_000  # microseconds per beat: 120 bpm, the MIDI default
TICKS_PER_SECOND = MIDI_RESOLUTION * 1_000_000 / MIDI_TEMPO_US  # 1920


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


def write_midi(
    notes: Iterable[Note],
    path: str | Path,
    tempo_map: "TempoMap | None" = None,
    sustain: "Intervals | None" = None,
) -> Path:
    """Write ``notes`` (and the sustain pedal, if given) as a standard MIDI file; returns the path."""
    path = Path(path)
    path.write_bytes(midi_bytes(notes, tempo_map, sustain))
    return path


def midi_bytes(
    notes: Iterable[Note], tempo_map: "TempoMap | None" = None, sustain: "Intervals | None" = None
) -> bytes:
    """A standard MIDI file (format 1: a tempo track and one Acoustic Grand Piano track on channel 1).

    Times are kept to 1 / TICKS_PER_SECOND s; a note shorter than a tick lasts one tick. At equal
    ticks note-offs come before note-ons, so a key struck again right at its release sounds again.
    Without ``tempo_map`` the file is 120 bpm 4/4; with one (piano_ai.score.tempo) its beats and bars are
    the tracked ones and every note still sounds at its time in seconds. ``sustain`` (down, up) seconds
    become CC64 127 / 0 events on the piano track.
    """
    notes = list(notes)
    to_ticks = _tick_function(tempo_map)
    starts, ends = to_ticks([n.start for n in notes]), to_ticks([n.end for n in notes])
    events = []  # (tick, order, status, data1, data2): at equal ticks pedal ups, note-offs, pedal downs, ons
    for n, start, end in zip(notes, starts, ends, strict=True):
        end = max(end, start + 1)
        events += [(start, 3, 0x90, int(n.pitch), int(n.velocity)), (end, 1, 0x80, int(n.pitch), 0)]
    pedal = sustain or []
    downs, ups = to_ticks([down for down, _ in pedal]), to_ticks([up for _, up in pedal])
    for down, up in zip(downs, ups, strict=True):
        events += [(down, 2, 0xB0, SUSTAIN_CC, 127), (max(up, down + 1), 0, 0xB0, SUSTAIN_CC, 0)]
    events.sort()
    body = bytearray()
    body += _meta(0x03, b"Acoustic Grand Piano") + bytes([0x00, 0xC0, PIANO_PROGRAM])
    tick = 0
    for at, _, status, data1, data2 in events:
        body += _varlen(at - tick) + bytes([status, data1, data2])
        tick = at
    body += _meta(0x2F, b"")
    tempo = _tempo_track(tempo_map)
    header = b"MThd" + struct.pack(">IHHH", 6, 1, 2, MIDI_RESOLUTION)
    return header + _chunk(tempo) + _chunk(bytes(body))


def _tick_function(tempo_map: "TempoMap | None") -> Callable[[list[float]], list[int]]:
    """Seconds to ticks: at the fixed 120 bpm, or through ``tempo_map``."""
    if tempo_map is None:
        return lambda times: [round(t * TICKS_PER_SECOND) for t in times]
    return lambda times: tempo_map.ticks(times).tolist() if times else []


def _tempo_track(tempo_map: "TempoMap | None") -> bytes:
    """The tempo track: 120 bpm 4/4, or every set-tempo and time signature of ``tempo_map``; end of track."""
    if tempo_map is None:
        return (
            _meta(0x51, MIDI_TEMPO_US.to_bytes(3, "big"))
            + _meta(0x58, bytes([4, 2, 24, 8]))
            + _meta(0x2F, b"")
        )
    body = bytearray()
    tick = 0
    for at, kind, data in tempo_map.meta_events():
        body += _varlen(at - tick) + _meta(kind, data)[1:]  # _meta's own delta (0) replaced by the real one
        tick = at
    return bytes(body) + _meta(0x2F, b"")


def _chunk(data: bytes) -> bytes:
    return b"MTrk" + struct.pack(">I", len(data)) + data


def _meta(kind: int, data: bytes) -> bytes:
    """A meta event at delta time 0."""
    return bytes([0x00, 0xFF, kind]) + _varlen(len(data)) + data


def _varlen(value: int) -> bytes:
    """MIDI variable-length quantity: 7 bits per byte, most significant first, high bit = more follows."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


def midi_to_notes(path: str | Path) -> list[Note]:
    """Notes of every non-drum track of any MIDI file, sorted by (start, pitch) (see midi_notes)."""
    try:
        midi = pretty_midi.PrettyMIDI(str(path))
    except Exception as exc:  # pretty_midi/mido raise many types for a bad file
        raise ValueError(f"{path}: not a readable MIDI file ({exc})") from exc
    return midi_notes(midi)


def midi_notes(midi: pretty_midi.PrettyMIDI) -> list[Note]:
    """Notes of every non-drum track, sorted by (start, pitch).

    Notes outside the piano's range (A0..C8) and of zero length are dropped; the sustain pedal is
    not applied (see piano_ai.data.targets.pedal_extended_notes for that).
    """
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


def notes_to_json(notes: Iterable[Note], sustain: "Intervals | None" = None, pedal: str | None = None) -> str:
    """JSON text {"notes": [{"pitch", "start", "end", "velocity"}, ...]}; with ``pedal`` (the NoteParams.pedal
    mode that made the notes) also "pedal": mode and "sustain": [{"down", "up"}, ...] seconds, the presses
    written as CC64 ("cc64") or already folded into the note ends ("extend", then empty)."""
    body: dict[str, Any] = {"notes": [note_to_dict(n) for n in notes]}
    if pedal is not None:
        body["pedal"] = pedal
        body["sustain"] = [
            {"down": round(down, TIME_DECIMALS), "up": round(up, TIME_DECIMALS)} for down, up in sustain or []
        ]
    return json.dumps(body, indent=1)


def write_json(
    notes: Iterable[Note], path: str | Path, sustain: "Intervals | None" = None, pedal: str | None = None
) -> Path:
    path = Path(path)
    path.write_text(notes_to_json(notes, sustain, pedal) + "\n", encoding="utf-8")
    return path


def notes_csv_text(notes: Iterable[Note]) -> str:
    """CSV text, one row per note: start_s,end_s,pitch,velocity,name (name like C4), with a header row."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for n in notes:
        start, end = f"{n.start:.{TIME_DECIMALS}f}", f"{n.end:.{TIME_DECIMALS}f}"
        writer.writerow([start, end, n.pitch, n.velocity, pretty_midi.note_number_to_name(n.pitch)])
    return buffer.getvalue()


def notes_to_csv(notes: Iterable[Note], path: str | Path) -> Path:
    """Write notes_csv_text(notes) to ``path``."""
    path = Path(path)
    path.write_text(notes_csv_text(notes), encoding="utf-8", newline="")
    return path
