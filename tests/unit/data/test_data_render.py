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


def _held_c2(others: int) -> pretty_midi.PrettyMIDI:
    midi, piano = new_piano_midi()
    piano.control_changes += [pretty_midi.ControlChange(64, 127, 0.0), pretty_midi.ControlChange(64, 0, 7.0)]
    piano.notes.append(pretty_midi.Note(100, 36, 0.1, 0.3))
    piano.notes += [pretty_midi.Note(80, 40 + i % 60, 0.5 + i * 0.05, 0.55 + i * 0.05) for i in range(others)]
    add_end_marker(midi, 8.0)
    return midi


@pytest.mark.parametrize("name", sorted(instruments()))
def test_a_held_bass_note_survives_seventy_notes_under_the_pedal(name):
    """No voice stealing: with sfizz's default 64 voices this C2 dropped by ~20 dB."""

    def c2_level(audio: np.ndarray) -> float:
        spectrum = np.abs(np.fft.rfft(audio[int(4.5 * SAMPLE_RATE) : int(5.5 * SAMPLE_RATE)]))  # 1 Hz bins
        return float(20 * np.log10(spectrum[64:68].max()))  # C2 = 65.4 Hz; the other notes are E2 and up

    alone = c2_level(render(_held_c2(0), instruments()[name], 8.0))
    crowded = c2_level(render(_held_c2(70), instruments()[name], 8.0))
    assert crowded > alone - 6


@pytest.mark.parametrize(("base", "variant"), [("musescore", "mellow"), ("gmbank", "gmbank-acoustic")])
def test_a_bank_select_renders_another_piano(base, variant):
    """Without the CC0 placed before the program change FluidSynth plays bank 0 for both (identical audio)."""
    a, b = (render(one_note(), instruments()[name], 3.0) for name in (base, variant))
    assert instruments()[variant].bank != 0
    assert not np.allclose(a, b, atol=1e-3)
    assert level_db(b, 0.6, 0.9) > level_db(b, 0.0, 0.4) + 30


def test_select_preset_puts_bank_and_program_first_and_keeps_times(tmp_path):
    import mido

    from piano_ai.data.render import select_preset

    midi = one_note(pedal=True)
    path = tmp_path / "x.mid"
    midi.write(str(path))
    select_preset(path, 8, 1)
    notes = pretty_midi.PrettyMIDI(str(path)).instruments[0].notes
    assert [(n.pitch, round(n.start, 3), round(n.end, 3)) for n in notes] == [(60, 0.5, 1.0)]
    track = next(t for t in mido.MidiFile(str(path)).tracks if any(m.type == "note_on" for m in t))
    assert [(m.type, getattr(m, "value", getattr(m, "program", None))) for m in track[:2]] == [
        ("control_change", 8),
        ("program_change", 1),
    ]
    assert sum(m.type == "program_change" for m in track) == 1
