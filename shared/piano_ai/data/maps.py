"""MAPS (Emiya et al.): real sampled and Disklavier pianos as training data and a real-recording dev set.

scripts/fetch_maps.py brings the recordings in from jongwook/onsets-and-frames (data/MAPS) as
``<root>/<instrument>/<stem>.flac`` + ``<stem>.mid``: notes end at key release and CC64 carries the sustain
pedal, rebuilt from that repository's two note lists (key-release ends at its head, pedal-release ends in
its first commit). Pure functions here; the folder walk and shard writing are in maps_build.py.

Roles, fixed by the project and kept by an allowlist: the seven TRAIN_INSTRUMENTS train; ENSTDkCl (Disklavier,
close mics) is the development set, never trained on; any other recording in the snapshot is never read.
Training leaves out every piece that a recording outside TRAIN_INSTRUMENTS also plays.
"""

from __future__ import annotations

from dataclasses import dataclass

import pretty_midi

from piano_ai.data.targets import SUSTAIN_CC
from piano_ai.midi_io import MIDI_RESOLUTION, PIANO_PROGRAM

TRAIN_INSTRUMENTS = ("AkPnBcht", "AkPnBsdf", "AkPnCGdD", "AkPnStgb", "SptkBGAm", "SptkBGCl", "StbgTGd2")
DEV_INSTRUMENT = "ENSTDkCl"  # real Disklavier, close microphones: the development set
EXTRACTED = (*TRAIN_INSTRUMENTS, DEV_INSTRUMENT)  # the only recordings ever read from the snapshot
PEDAL_GAP_S = 0.01  # a pedal-release end later than the key release by more than this means the pedal held it


@dataclass(frozen=True)
class TsvNote:
    """One row of a MAPS note list (times in seconds)."""

    onset: float
    offset: float
    pitch: int
    velocity: int


def split_stem(stem: str) -> tuple[str, str]:
    """(piece, instrument) of a MAPS file stem, e.g. MAPS_MUS-alb_esp2_AkPnCGdD -> (alb_esp2, AkPnCGdD)."""
    body, _, instrument = stem.rpartition("_")
    return body.removeprefix("MAPS_MUS-"), instrument


def parse_tsv(text: str) -> list[TsvNote]:
    """Rows of either layout (a header line, then onset, offset, pitch, velocity separated by tabs)."""
    notes = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4 or not fields[0][0].isdigit():
            continue
        onset, offset, pitch, velocity = (float(f) for f in fields[:4])
        notes.append(TsvNote(onset, offset, int(round(pitch)), int(round(velocity))))
    return sorted(notes, key=lambda n: (n.onset, n.pitch))


def _key(note: TsvNote) -> tuple[int, int]:
    return int(round(note.onset * 1000)), note.pitch


def pedal_intervals(key_notes: list[TsvNote], pedal_notes: list[TsvNote]) -> list[tuple[float, float]]:
    """(down, up) sustain intervals implied by the two lists: the pedal holds a note from its key release
    to its pedal-release end. Each distinct pedal-release time is a pedal lift, except an end where the same
    key is struck again (that cuts the note, pedal or not); the pedal went down no later than the first key
    release it holds. Notes found in only one list are ignored.
    """
    ends = {_key(n): n.offset for n in pedal_notes}
    restrikes = {(int(round(n.onset * 1000)), n.pitch) for n in key_notes}
    down_by_up: dict[float, float] = {}
    for note in key_notes:
        pedal_end = ends.get(_key(note))
        if pedal_end is None or pedal_end - note.offset <= PEDAL_GAP_S:
            continue
        if any((int(round(pedal_end * 1000)) + d, note.pitch) in restrikes for d in (-1, 0, 1)):
            continue
        up = round(pedal_end, 6)
        down_by_up[up] = min(down_by_up.get(up, note.offset), note.offset)
    intervals: list[tuple[float, float]] = []
    for up, down in sorted(down_by_up.items()):
        if intervals and down < intervals[-1][1]:
            down = intervals[-1][1]  # the previous lift happened first; the pedal went down again after it
        if up > down:
            intervals.append((down, up))
    return intervals


def maps_midi(key_notes: list[TsvNote], intervals: list[tuple[float, float]]) -> pretty_midi.PrettyMIDI:
    """One piano track: notes ending at key release, CC64 down/up at each sustain interval's ends."""
    midi = pretty_midi.PrettyMIDI(resolution=MIDI_RESOLUTION)
    piano = pretty_midi.Instrument(program=PIANO_PROGRAM, name="Acoustic Grand Piano")
    piano.notes = [
        pretty_midi.Note(
            velocity=max(1, n.velocity), pitch=n.pitch, start=n.onset, end=max(n.offset, n.onset)
        )
        for n in key_notes
    ]
    for down, up in intervals:
        piano.control_changes.append(pretty_midi.ControlChange(SUSTAIN_CC, 127, down))
        piano.control_changes.append(pretty_midi.ControlChange(SUSTAIN_CC, 0, up))
    midi.instruments.append(piano)
    return midi
