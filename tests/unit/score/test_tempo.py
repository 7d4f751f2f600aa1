"""The tempo map: a MIDI file's beats and bars are the tracked ones, and no note moves in seconds."""

import io

import numpy as np
import pretty_midi
import pytest

from piano_ai.midi_io import midi_bytes
from piano_ai.score.beats import Beats, fixed_beats
from piano_ai.score.tempo import MIDI_RESOLUTION, tempo_map
from piano_ai.types import Note

# A rubato 3/4 performance that starts on beat 3 (a one-beat pickup), 0.62 s into the recording.
RUBATO = Beats(
    times=(0.62, 1.10, 1.63, 2.20, 2.71, 3.30, 3.95, 4.50, 5.02, 5.60),
    positions=(3, 1, 2, 3, 1, 2, 3, 1, 2, 3),
    beats_per_bar=3,
    found=True,
)
NOTES = [Note(60 + i % 12, t, t + 0.37, 80) for i, t in enumerate(np.linspace(0.03, 5.9, 23).round(4))]


def read(beats: Beats, notes: list[Note]) -> pretty_midi.PrettyMIDI:
    tempo = tempo_map(beats, max(n.end for n in notes))
    return pretty_midi.PrettyMIDI(io.BytesIO(midi_bytes(notes, tempo)))


def test_midi_beats_are_the_tracked_beats() -> None:
    beats = read(RUBATO, NOTES).get_beats()
    first = int(np.argmin(np.abs(beats - RUBATO.times[0])))
    assert beats[0] == 0.0 and first == 1  # one pickup beat from 0 s
    np.testing.assert_allclose(beats[first : first + len(RUBATO.times)], RUBATO.times, atol=1e-5)


def test_midi_bars_start_on_the_tracked_downbeats() -> None:
    downbeats = read(RUBATO, NOTES).get_downbeats()
    # The pickup bar (0 s .. the first tracked beat) is a bar of its own, as in a score with an anacrusis.
    np.testing.assert_allclose(downbeats[1:4], RUBATO.downbeats, atol=1e-5)
    assert downbeats[0] == 0.0


def test_notes_keep_their_seconds() -> None:
    midi = read(RUBATO, NOTES)
    written = sorted(midi.instruments[0].notes, key=lambda n: n.start)
    tick_s = 0.65 / MIDI_RESOLUTION  # the longest beat here, per tick
    np.testing.assert_allclose([n.start for n in written], [n.start for n in NOTES], atol=tick_s)
    np.testing.assert_allclose([n.end for n in written], [n.end for n in NOTES], atol=tick_s)


@pytest.mark.parametrize(
    ("times", "positions", "per_bar", "signatures"),
    [
        ((0.0, 0.5, 1.0, 1.5, 2.0), (1, 2, 3, 4, 1), 4, ((0, 4),)),  # starts on a downbeat at 0 s
        ((1.0, 1.5, 2.0), (1, 2, 3), 3, ((0, 2), (2, 3))),  # two pickup beats before the first bar
        ((0.5, 1.0, 1.5), (4, 1, 2), 4, ((0, 2), (2, 4))),  # one pickup beat, then one tracked upbeat
        ((0.3, 0.8), (2, 3), 3, ((0, 3),)),  # no downbeat tracked: bars of the meter from 0 s
    ],
)
def test_pickups_and_signatures(times: tuple, positions: tuple, per_bar: int, signatures: tuple) -> None:
    tempo = tempo_map(Beats(times, positions, per_bar, True), end_s=2.0)
    assert tempo.grid[0] == 0.0
    assert tempo.signatures == signatures


def test_no_beat_found_is_a_valid_120_bpm_file() -> None:
    silence = fixed_beats(3.0, "no steady beat")
    midi = read(silence, [Note(60, 0.1, 2.9, 64)])
    np.testing.assert_allclose(midi.get_beats(), np.arange(6) * 0.5)  # beats up to the last note's end
    assert midi.get_tempo_changes()[1][0] == pytest.approx(120.0)


def test_no_notes_and_no_beats_still_make_a_file() -> None:
    empty = Beats((), (), 4, False, "no steady beat")
    midi = pretty_midi.PrettyMIDI(io.BytesIO(midi_bytes([], tempo_map(empty, 0.0))))
    assert not any(track.notes for track in midi.instruments)
    assert midi.get_tempo_changes()[1][0] == pytest.approx(120.0)
