"""Pedal-extended notes and frame targets: tables of cases."""

import numpy as np
import pretty_midi
import pytest

from piano_ai.constants import LOWEST_KEY, N_KEYS
from piano_ai.data.targets import (
    key_notes,
    key_release_targets,
    midi_sustain,
    notes_to_targets,
    pedal_extended_notes,
    pedal_target,
    sustain_intervals,
)
from piano_ai.types import Note


def midi_of(
    notes: list[tuple[int, float, float]], pedal: list[tuple[float, int]] = ()
) -> pretty_midi.PrettyMIDI:
    midi = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(program=0)
    piano.notes = [pretty_midi.Note(80, p, s, e) for p, s, e in notes]
    piano.control_changes = [pretty_midi.ControlChange(64, v, t) for t, v in pedal]
    midi.instruments.append(piano)
    return midi


PEDAL_CASES = [
    # (id, notes (pitch, start, end), pedal events (time, value), expected (pitch, start, end))
    ("no pedal", [(60, 0.0, 0.5)], [], [(60, 0.0, 0.5)]),
    ("released under pedal lasts to pedal up", [(60, 0.0, 0.5)], [(0.2, 127), (1.5, 0)], [(60, 0.0, 1.5)]),
    ("released before pedal goes down", [(60, 0.0, 0.5)], [(0.6, 127), (1.5, 0)], [(60, 0.0, 0.5)]),
    ("key held past pedal up keeps its own end", [(60, 0.0, 2.0)], [(0.2, 127), (1.5, 0)], [(60, 0.0, 2.0)]),
    ("value 63 is not down", [(60, 0.0, 0.5)], [(0.2, 63), (1.5, 0)], [(60, 0.0, 0.5)]),
    (
        "re-strike under pedal ends the earlier note",
        [(60, 0.0, 0.3), (60, 1.0, 1.2)],
        [(0.1, 127), (2.0, 0)],
        [(60, 0.0, 1.0), (60, 1.0, 2.0)],
    ),
    (
        "other keys are not cut",
        [(60, 0.0, 0.3), (64, 1.0, 1.2)],
        [(0.1, 127), (2.0, 0)],
        [(60, 0.0, 2.0), (64, 1.0, 2.0)],
    ),
    (
        "pedal never lifted ends at the last event",
        [(60, 0.0, 0.3), (62, 0.5, 0.9)],
        [(0.1, 127)],
        [(60, 0.0, 0.9), (62, 0.5, 0.9)],
    ),
    ("out-of-range pitch dropped", [(10, 0.0, 0.5), (60, 0.0, 0.5)], [], [(60, 0.0, 0.5)]),
    (
        "two pedal presses",
        [(60, 0.0, 0.3), (62, 1.0, 1.1)],
        [(0.1, 100), (0.5, 0), (1.05, 100), (1.4, 20)],
        [(60, 0.0, 0.5), (62, 1.0, 1.4)],
    ),
]


@pytest.mark.parametrize(
    ("notes", "pedal", "expected"), [c[1:] for c in PEDAL_CASES], ids=[c[0] for c in PEDAL_CASES]
)
def test_pedal_extended_notes(notes, pedal, expected):
    got = [(n.pitch, round(n.start, 6), round(n.end, 6)) for n in pedal_extended_notes(midi_of(notes, pedal))]
    assert got == expected


def test_time_scale_stretches_notes_and_pedal():
    midi = midi_of([(60, 1.0, 1.2)], [(1.1, 127), (2.0, 0)])
    (note,) = pedal_extended_notes(midi, time_scale=2.0)
    assert (note.start, note.end) == (2.0, 4.0)


def test_drum_tracks_ignored_and_velocity_kept():
    midi = midi_of([(60, 0.0, 0.5)])
    drums = pretty_midi.Instrument(program=0, is_drum=True)
    drums.notes.append(pretty_midi.Note(100, 38, 0.0, 0.1))
    midi.instruments.append(drums)
    assert pedal_extended_notes(midi) == [Note(60, 0.0, 0.5, 80)]


def test_sustain_intervals_ignore_repeated_downs():
    ccs = [pretty_midi.ControlChange(64, v, t) for t, v in [(0.0, 100), (0.5, 127), (1.0, 0), (1.5, 0)]]
    assert sustain_intervals(ccs) == [(0.0, 1.0)]


TARGET_CASES = [
    # (id, note, frames, onset frame or None, frame span (first, last), offset frame or None)
    ("simple", Note(60, 0.0, 0.32, 90), 20, 0, (0, 10), 10),
    ("rounding", Note(60, 0.05, 0.1, 90), 20, 2, (2, 3), 3),
    ("runs past the window: no offset", Note(60, 0.32, 5.0, 90), 20, 10, (10, 19), None),
    ("started before the window: no onset", Note(60, -1.0, 0.32, 90), 20, None, (0, 10), 10),
    ("tiny note keeps onset = offset frame", Note(60, 0.32, 0.33, 90), 20, 10, (10, 10), 10),
]


@pytest.mark.parametrize(
    ("note", "frames", "onset", "span", "offset"),
    [c[1:] for c in TARGET_CASES],
    ids=[c[0] for c in TARGET_CASES],
)
def test_notes_to_targets(note, frames, onset, span, offset):
    t = notes_to_targets([note], frames)
    key = note.pitch - LOWEST_KEY
    assert {k: (v.shape, v.dtype) for k, v in t.items()} == {
        k: ((frames, N_KEYS), np.uint8) for k in ("onset", "frame", "offset", "velocity")
    }
    assert list(np.flatnonzero(t["onset"][:, key])) == ([] if onset is None else [onset])
    assert list(np.flatnonzero(t["frame"][:, key])) == list(range(span[0], span[1] + 1))
    assert list(np.flatnonzero(t["offset"][:, key])) == ([] if offset is None else [offset])
    assert t["velocity"].sum() == (0 if onset is None else note.velocity)
    assert t["frame"].sum() == span[1] - span[0] + 1  # no other key touched


def test_targets_window_offset_and_louder_velocity_wins():
    notes = [Note(21, 10.0, 10.5, 30), Note(21, 10.005, 10.6, 100), Note(108, 3.0, 4.0, 50)]
    t = notes_to_targets(notes, 40, offset_s=9.0)
    assert t["onset"][31, 0] == 1 and t["velocity"][31, 0] == 100
    assert t["onset"][:, N_KEYS - 1].sum() == 0 and t["frame"][:, N_KEYS - 1].sum() == 0  # outside the window


PEDAL_TARGET_CASES = [
    # (id, intervals (down, up) s, frames, offset_s, frames expected down)
    ("none", [], 10, 0.0, []),
    ("one interval", [(0.064, 0.16)], 10, 0.0, [2, 3, 4]),
    ("still down at the end", [(0.224, float("inf"))], 10, 0.0, [7, 8, 9]),
    ("window offset", [(1.0, 1.096)], 10, 0.968, [1, 2, 3]),
    ("before the window", [(0.0, 0.5)], 10, 1.0, []),
]


@pytest.mark.parametrize(
    ("intervals", "frames", "offset_s", "down"),
    [c[1:] for c in PEDAL_TARGET_CASES],
    ids=[c[0] for c in PEDAL_TARGET_CASES],
)
def test_pedal_target_marks_frames_while_the_pedal_is_down(intervals, frames, offset_s, down):
    target = pedal_target(intervals, frames, offset_s)
    assert target.dtype == np.uint8 and target.shape == (frames,)
    assert list(np.nonzero(target)[0]) == down


def test_midi_sustain_reads_the_piano_track():
    midi = midi_of([(60, 0.0, 0.5)], [(0.2, 127), (1.5, 0)])
    assert midi_sustain(midi) == [(0.2, 1.5)]
    assert midi_sustain(midi_of([(60, 0.0, 0.5)])) == []


def test_key_notes_end_at_key_release_whatever_the_pedal():
    midi = midi_of([(64, 1.0, 1.2), (60, 0.0, 0.3), (20, 0.0, 1.0)], [(0.1, 127), (2.0, 0)])
    assert key_notes(midi) == [Note(60, 0.0, 0.3, 80), Note(64, 1.0, 1.2, 80)]
    assert [n.end for n in pedal_extended_notes(midi)] == [2.0, 2.0]
    assert key_notes(midi, time_scale=2.0)[0] == Note(60, 0.0, 0.6, 80)


def test_key_release_targets_are_frame_and_offset_of_the_key_notes():
    notes = [Note(60, 0.1, 0.5, 70)]
    keys = key_release_targets(notes, 40)
    both = notes_to_targets(notes, 40)
    assert sorted(keys) == ["key_frame", "key_offset"]
    np.testing.assert_array_equal(keys["key_frame"], both["frame"])
    np.testing.assert_array_equal(keys["key_offset"], both["offset"])
    assert keys["key_offset"][:, 60 - LOWEST_KEY].nonzero()[0].tolist() == [round(0.5 * 31.25)]
