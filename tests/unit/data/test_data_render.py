"""Every instrument renders aligned, mono, 16 kHz audio; sfizz renders are complete and repeatable."""

import numpy as np
import pretty_midi
import pytest

from piano_ai.constants import SAMPLE_RATE
from piano_ai.data.excerpt import add_end_marker, new_piano_midi
from piano_ai.data.render import instruments, render

pytestmark = pytest.mark.slow


def one_note(pedal: bool = False) -> pretty_midi.PrettyMIDI:
    midi, piano = new_piano_midi()
    piano.notes.append(pretty_midi.Note(90, 60, 0.5, 1.0))
    if pedal:
        piano.control_changes += [
            pretty_midi.ControlChange(64, 127, 0.3),
            pretty_midi.ControlChange(64, 0, 2.0),
        ]
    add_end_marker(midi, 3.0)
    return midi


def level_db(audio: np.ndarray, start_s: float, end_s: float) -> float:
    part = audio[int(start_s * SAMPLE_RATE) : int(end_s * SAMPLE_RATE)]
    return float(20 * np.log10(np.sqrt(np.mean(part.astype(np.float64) ** 2)) + 1e-12))


@pytest.mark.parametrize("name", sorted(instruments()))
def test_note_starts_on_time_and_follows_the_pedal(name):
    dry, held = render(one_note(), instruments()[name], 3.0), render(one_note(True), instruments()[name], 3.0)
    assert dry.shape == (3 * SAMPLE_RATE,) and dry.dtype == np.float32
    first = int(np.argmax(np.abs(dry) > 1e-3)) / SAMPLE_RATE
    assert 0.5 <= first < 0.52  # onset within 20 ms of the MIDI time
    assert level_db(dry, 0.6, 0.9) > level_db(dry, 0.0, 0.4) + 30  # sounding while the key is down
    assert level_db(held, 1.5, 1.9) > level_db(dry, 1.5, 1.9) + 15  # the pedal keeps it ringing


@pytest.mark.parametrize("name", ["salamander", "headroom"])
def test_sfizz_renders_are_repeatable(name):
    first, second = (render(one_note(True), instruments()[name], 3.0) for _ in range(2))
    assert np.array_equal(first, second)
    assert level_db(first, 1.5, 1.9) > -75  # not cut off after sfizz's preloaded 0.2 s
