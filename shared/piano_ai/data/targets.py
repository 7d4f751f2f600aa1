"""Training targets from MIDI: sustain-pedal note extension and frame-level piano rolls.

Pure numpy (plus pretty_midi objects as input). The pedal rule follows MAESTRO / Onsets and Frames:
while CC64 >= 64 is held, a released key keeps sounding until the pedal goes up, and striking the same
key again ends the earlier note at the new onset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from piano_ai.constants import FRAMES_PER_SECOND, HIGHEST_KEY, LOWEST_KEY, N_KEYS
from piano_ai.types import Note

if TYPE_CHECKING:
    import pretty_midi

SUSTAIN_CC = 64  # MIDI controller number of the sustain (damper) pedal
PEDAL_DOWN = 64  # CC64 values >= this hold the dampers off
TARGET_NAMES = ("onset", "frame", "offset", "velocity")
# the frame and offset targets again with notes ending at key release (no pedal): shards carry both
KEY_TARGET_NAMES = {"key_frame": "frame", "key_offset": "offset"}

Targets = dict[str, npt.NDArray[np.uint8]]  # name -> (frames, N_KEYS) uint8


def sustain_intervals(
    control_changes: list[pretty_midi.ControlChange], time_scale: float = 1.0
) -> list[tuple[float, float]]:
    """(down, up) times in seconds during which the sustain pedal is held.

    A pedal still down at the last event stays down forever (up = inf).
    """
    intervals: list[tuple[float, float]] = []
    down_at: float | None = None
    for cc in sorted((c for c in control_changes if c.number == SUSTAIN_CC), key=lambda c: c.time):
        if cc.value >= PEDAL_DOWN and down_at is None:
            down_at = cc.time * time_scale
        elif cc.value < PEDAL_DOWN and down_at is not None:
            intervals.append((down_at, cc.time * time_scale))
            down_at = None
    if down_at is not None:
        intervals.append((down_at, float("inf")))
    return intervals


def key_notes(midi: pretty_midi.PrettyMIDI, time_scale: float = 1.0) -> list[Note]:
    """Piano notes of every non-drum track ending at key release (pedal ignored), sorted (start, pitch)."""
    notes = [
        Note(n.pitch, n.start * time_scale, n.end * time_scale, int(n.velocity))
        for instrument in midi.instruments
        if not instrument.is_drum
        for n in instrument.notes
        if LOWEST_KEY <= n.pitch <= HIGHEST_KEY
    ]
    notes.sort(key=lambda n: (n.start, n.pitch))
    return notes


def key_release_targets(notes: list[Note], frames: int, offset_s: float = 0.0) -> Targets:
    """key_frame and key_offset: notes_to_targets' frame and offset for notes ending at key release."""
    targets = notes_to_targets(notes, frames, offset_s)
    return {name: targets[source] for name, source in KEY_TARGET_NAMES.items()}


def pedal_extended_notes(midi: pretty_midi.PrettyMIDI, time_scale: float = 1.0) -> list[Note]:
    """Piano notes of every non-drum track with the sustain pedal applied, sorted by (start, pitch).

    time_scale multiplies every time (2.0 plays twice as slowly). Notes outside A0..C8 are dropped.
    A note held by a pedal that never lifts ends at its last key release or pedal event, whichever
    is later (so a final held chord does not last forever). The rule itself is piano_ai.pedal.extend_notes.
    """
    from piano_ai.pedal import extend_notes

    notes: list[Note] = []
    for instrument in midi.instruments:
        if instrument.is_drum:
            continue
        last_event = max(
            [n.end * time_scale for n in instrument.notes]
            + [c.time * time_scale for c in instrument.control_changes]
            + [0.0]
        )
        intervals = [
            (down, min(up, last_event))
            for down, up in sustain_intervals(instrument.control_changes, time_scale)
        ]
        played = [
            Note(n.pitch, n.start * time_scale, n.end * time_scale, int(n.velocity))
            for n in instrument.notes
            if LOWEST_KEY <= n.pitch <= HIGHEST_KEY
        ]
        notes += extend_notes(played, intervals)
    notes.sort(key=lambda n: (n.start, n.pitch))
    return notes


def notes_to_targets(notes: list[Note], frames: int, offset_s: float = 0.0) -> Targets:
    """Frame-level targets for ``frames`` frames starting at ``offset_s`` seconds into ``notes``' timeline.

    Returns onset, frame, offset, velocity arrays, each (frames, N_KEYS) uint8. Column k is pitch
    LOWEST_KEY + k; row t is time offset_s + t / FRAMES_PER_SECOND. Onset on round(start*fps), frame from
    the onset frame through the end frame round(end*fps), offset on the end frame; velocity holds the
    MIDI velocity on onset frames and 0 elsewhere. Parts outside the window are cut off (a note that
    starts before the window has no onset mark; one that ends after it has no offset mark).
    """
    targets = {name: np.zeros((frames, N_KEYS), dtype=np.uint8) for name in TARGET_NAMES}
    for note in notes:
        key = note.pitch - LOWEST_KEY
        if not 0 <= key < N_KEYS:
            continue
        on = int(round((note.start - offset_s) * FRAMES_PER_SECOND))
        off = max(int(round((note.end - offset_s) * FRAMES_PER_SECOND)), on)
        if off < 0 or on >= frames:
            continue
        if on >= 0:
            targets["onset"][on, key] = 1
            targets["velocity"][on, key] = max(int(targets["velocity"][on, key]), int(note.velocity))
        targets["frame"][max(on, 0) : min(off, frames - 1) + 1, key] = 1
        if off < frames:
            targets["offset"][off, key] = 1
    return targets


def midi_sustain(midi: pretty_midi.PrettyMIDI, time_scale: float = 1.0) -> list[tuple[float, float]]:
    """Sustain intervals of the first non-drum track that has any CC64 (piano MIDI has one track)."""
    for instrument in midi.instruments:
        if not instrument.is_drum and any(c.number == SUSTAIN_CC for c in instrument.control_changes):
            return sustain_intervals(instrument.control_changes, time_scale)
    return []


def pedal_target(
    intervals: list[tuple[float, float]], frames: int, offset_s: float = 0.0
) -> npt.NDArray[np.uint8]:
    """(frames,) uint8: 1 where the sustain pedal is down; row t is offset_s + t / FRAMES_PER_SECOND.

    A frame counts as down from round(down * fps) up to, not including, round(up * fps).
    """
    target = np.zeros(frames, dtype=np.uint8)
    for down, up in intervals:
        on = max(int(round((down - offset_s) * FRAMES_PER_SECOND)), 0)
        off = frames if up == float("inf") else min(int(round((up - offset_s) * FRAMES_PER_SECOND)), frames)
        if off > on:
            target[on:off] = 1
    return target
