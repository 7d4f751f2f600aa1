"""The score as a MIDI file: the quantized notes on the beat grid at one constant tempo.

Every note starts and ends on the grid the MusicXML is written on (sixteenths and triplets of a beat; ticks
are exact: a sixteenth is MIDI_RESOLUTION / 4 ticks, a triplet eighth MIDI_RESOLUTION / 3), bars and time
signatures are the score's, and the tempo is the score's metronome mark, the median tracked tempo, held for
the whole piece. So the file is the sheet music as MIDI (like a notation program's export): a DAW's grid and
a notation import line up with it, while the performance, with its rubato, stays in the transcription's own
MIDI file (``<stem>.mid``), whose tempo map follows every tracked beat.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from fractions import Fraction
from typing import TYPE_CHECKING

from piano_ai.score.quantize import QNote
from piano_ai.score.tempo import MAX_TEMPO_US, MIDI_RESOLUTION, TempoMap, signature_data

if TYPE_CHECKING:
    import music21

SUSTAIN_CC = 64  # MIDI controller number of the sustain pedal
TRACK_NAMES = ("Right hand", "Left hand")  # one track per staff: treble, bass
PIANO_PROGRAM = 0  # General MIDI Acoustic Grand Piano
# mido's key names by the number of sharps (negative: flats), major and minor.
MAJOR_KEYS = ("Cb", "Gb", "Db", "Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#")
MINOR_KEYS = (
    "Abm",
    "Ebm",
    "Bbm",
    "Fm",
    "Cm",
    "Gm",
    "Dm",
    "Am",
    "Em",
    "Bm",
    "F#m",
    "C#m",
    "G#m",
    "D#m",
    "A#m",
)


def quantized_midi_bytes(
    right: Sequence[QNote],
    left: Sequence[QNote],
    tempo: TempoMap,
    key: music21.key.Key,
    bpm: float,
    pedals: Sequence[tuple[float, float]] = (),
) -> bytes:
    """A format-1 MIDI file: a conductor track (one set-tempo of ``bpm`` beats per minute, ``tempo``'s time
    signatures, ``key``'s signature), then ``right`` and ``left`` (times in quarter notes) as one track each,
    with the sustain pedal (``pedals``: (down, up) in quarter notes, up may be inf) as CC64 in the left
    hand's.
    """
    import mido

    us_per_quarter = min(round(60e6 / bpm / float(tempo.beat_quarters)), MAX_TEMPO_US)
    conductor = [(0, mido.MetaMessage("set_tempo", tempo=us_per_quarter))]
    for offset, numerator, denominator in tempo.time_signatures():
        data = signature_data(numerator, denominator)
        conductor.append((_tick(offset), mido.MetaMessage(
            "time_signature", numerator=numerator, denominator=denominator, clocks_per_click=data[2],
            notated_32nd_notes_per_beat=data[3],
        )))  # fmt: skip
    if (name := key_name(key)) is not None:
        conductor.append((0, mido.MetaMessage("key_signature", key=name)))
    out = mido.MidiFile(type=1, ticks_per_beat=MIDI_RESOLUTION)
    out.tracks.append(_track(conductor))
    end = max([_tick(n.end) for n in (*right, *left)], default=0)
    for name, notes, pedal in zip(TRACK_NAMES, (right, left), ((), pedals), strict=True):
        out.tracks.append(_track(_part(name, notes, pedal, end)))
    buffer = io.BytesIO()
    out.save(file=buffer)
    return buffer.getvalue()


def key_name(key: music21.key.Key) -> str | None:
    """``key`` as mido names it ("Eb", "F#m"); None past seven sharps or flats."""
    names = MAJOR_KEYS if key.mode == "major" else MINOR_KEYS
    return names[key.sharps + 7] if -7 <= key.sharps <= 7 else None


def _part(
    name: str, notes: Sequence[QNote], pedals: Sequence[tuple[float, float]], end: int
) -> list[tuple[int, object]]:
    """One staff's track events: (tick, message); at equal ticks pedal ups and note-offs come first."""
    import mido

    timed: list[tuple[int, int, object]] = [
        (0, -1, mido.MetaMessage("track_name", name=name)),
        (0, -1, mido.Message("program_change", program=PIANO_PROGRAM)),
    ]
    for n in notes:
        timed.append((_tick(n.onset), 3, mido.Message("note_on", note=n.pitch, velocity=n.velocity)))
        timed.append((_tick(n.end), 1, mido.Message("note_off", note=n.pitch, velocity=0)))
    for down, up in pedals:
        down_tick = round(down * MIDI_RESOLUTION)
        up_tick = max(end if math.isinf(up) else round(up * MIDI_RESOLUTION), down_tick + 1)
        timed.append((max(down_tick, 0), 2, mido.Message("control_change", control=SUSTAIN_CC, value=127)))
        timed.append((up_tick, 0, mido.Message("control_change", control=SUSTAIN_CC, value=0)))
    timed.sort(key=lambda e: (e[0], e[1]))
    return [(tick, message) for tick, _, message in timed]


def _track(events: list[tuple[int, object]]) -> object:
    """A mido track from (absolute tick, message), in order; ends with end_of_track."""
    import mido

    track, now = mido.MidiTrack(), 0
    for tick, message in sorted(events, key=lambda e: e[0]):
        track.append(message.copy(time=tick - now))  # type: ignore[attr-defined]
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def _tick(quarters: Fraction) -> int:
    """Quarter notes to ticks: exact on the score's grid (sixteenths, triplets)."""
    return int(quarters * MIDI_RESOLUTION)
