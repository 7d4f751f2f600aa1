"""A pedal probability to presses, notes extended by them, and CC64 in the MIDI files we write (decoding's
use of the sustain network: tests/unit/test_sustain.py)."""

import numpy as np
import pretty_midi
import pytest

from piano_ai.constants import SECONDS_PER_FRAME
from piano_ai.data.targets import pedal_extended_notes
from piano_ai.midi_io import midi_bytes, notes_to_midi
from piano_ai.pedal import extend_notes, sustain_intervals
from piano_ai.types import Note

F = SECONDS_PER_FRAME

PRESS_CASES = [
    # (id, frames down as (first, end exclusive), total frames, expected (down, up) in frames)
    ("none", [], 20, []),
    ("one press", [(2, 10)], 20, [(2, 10)]),
    ("still down at the end", [(12, 20)], 20, [(12, 20)]),
    ("a 1-frame lift is bridged", [(2, 6), (7, 12)], 20, [(2, 12)]),
    ("a 2-frame lift is a pedal change", [(2, 6), (8, 12)], 20, [(2, 6), (8, 12)]),
    ("a 3-frame press is dropped", [(2, 5), (8, 12)], 20, [(8, 12)]),
]


@pytest.mark.parametrize(
    ("down", "frames", "expected"), [c[1:] for c in PRESS_CASES], ids=[c[0] for c in PRESS_CASES]
)
def test_presses_from_the_pedal_probability(down, frames, expected):
    pedal = np.full(frames, 0.1, np.float32)
    for first, end in down:
        pedal[first:end] = 0.9
    got = sustain_intervals(pedal)
    assert got == [(round(a * F, 4), round(b * F, 4)) for a, b in expected]


def test_extend_notes_follows_the_training_targets_rule():
    notes = [Note(60, 0.0, 0.5, 80), Note(60, 1.0, 1.2, 70), Note(64, 0.1, 2.5, 60), Note(67, 3.0, 3.2, 50)]
    intervals = [(0.2, 1.5), (3.1, 4.0)]
    midi = notes_to_midi(notes)
    for down, up in intervals:
        midi.instruments[0].control_changes += [
            pretty_midi.ControlChange(64, 127, down),
            pretty_midi.ControlChange(64, 0, up),
        ]
    assert extend_notes(notes, intervals) == pedal_extended_notes(midi)
    assert extend_notes(notes, []) == sorted(notes, key=lambda n: (n.start, n.pitch))


def test_midi_files_carry_the_sustain_pedal():
    notes = [Note(60, 0.0, 0.5, 80), Note(64, 1.0, 1.5, 70)]
    path_bytes = midi_bytes(notes, sustain=[(0.25, 1.25)])
    import io

    midi = pretty_midi.PrettyMIDI(io.BytesIO(path_bytes))
    ccs = [(c.number, c.value, round(c.time, 3)) for c in midi.instruments[0].control_changes]
    assert ccs == [(64, 127, 0.25), (64, 0, 1.25)]
    assert [(n.pitch, round(n.start, 3), round(n.end, 3)) for n in midi.instruments[0].notes] == [
        (60, 0.0, 0.5),
        (64, 1.0, 1.5),
    ]
    assert midi_bytes(notes) == midi_bytes(notes, sustain=[])


def test_pedal_mode_is_validated():
    from piano_ai.errors import InvalidParametersError
    from piano_ai.types import NoteParams

    with pytest.raises(InvalidParametersError, match="pedal must be one of cc64, extend"):
        NoteParams(pedal="hold").validate()
