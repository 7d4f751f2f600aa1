"""Cutting clip windows out of performances, and the one-sound-per-key rule."""

import pretty_midi

from piano_ai.data.excerpt import END_MARKER_CC, excerpt, resolve_overlaps
from piano_ai.data.targets import pedal_extended_notes


def performance() -> pretty_midi.PrettyMIDI:
    midi = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(program=5)
    piano.notes = [pretty_midi.Note(70, 60 + i % 12, i * 1.0, i * 1.0 + 0.5) for i in range(30)]
    piano.control_changes = [
        pretty_midi.ControlChange(64, 127, 9.5),  # down before the cut at 10 s ...
        pretty_midi.ControlChange(64, 0, 12.2),  # ... and lifted inside the clip
        pretty_midi.ControlChange(64, 127, 14.5),  # down again, never lifted inside the clip
        pretty_midi.ControlChange(7, 100, 11.0),  # not a pedal: dropped
    ]
    midi.instruments.append(piano)
    return midi


def test_excerpt_keeps_window_onsets_shifted_and_scaled():
    clip = excerpt(performance(), start=20.0, onset_window=5.0, seconds=6.0, time_scale=2.0)
    starts = [n.start for n in clip.instruments[0].notes]
    assert starts == [0.0, 2.0, 4.0]  # scaled onsets 20, 22, 24
    assert clip.instruments[0].program == 0
    assert clip.instruments[-1].control_changes[0].number == END_MARKER_CC
    assert clip.instruments[-1].control_changes[0].time == 6.0
    assert not clip.instruments[-1].notes


def test_excerpt_carries_pedal_state_and_holds_past_the_end():
    clip = excerpt(performance(), start=10.0, onset_window=5.0, seconds=6.0)
    pedal = [(round(c.time, 3), c.value) for c in clip.instruments[0].control_changes]
    assert pedal == [(0.0, 127), (2.2, 0), (4.5, 127), (7.0, 0)]  # lifted 1 s after the clip
    notes = pedal_extended_notes(clip)
    assert [(n.start, round(n.end, 3)) for n in notes] == [
        (0.0, 2.2),
        (1.0, 2.2),
        (2.0, 2.5),
        (3.0, 3.5),
        (4.0, 7.0),
    ]  # the last one is caught by the pedal


def test_resolve_overlaps_ends_a_note_before_its_key_is_struck_again():
    notes = [
        pretty_midi.Note(50, 60, 0.0, 1.0),
        pretty_midi.Note(80, 60, 0.5, 0.8),
        pretty_midi.Note(90, 60, 0.51, 0.9),  # within 30 ms of the previous strike: dropped
        pretty_midi.Note(40, 62, 0.0, 1.0),
    ]
    out = resolve_overlaps(notes)
    assert [(n.pitch, n.start, round(n.end, 3), n.velocity) for n in out] == [
        (60, 0.0, 0.495, 50),
        (62, 0.0, 1.0, 40),
        (60, 0.5, 0.8, 80),
    ]
