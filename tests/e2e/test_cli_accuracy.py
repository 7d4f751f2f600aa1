"""The CLI end to end on a known performance: render MIDI with FluidSynth, convert it, score the notes.

The reference is a short passage written here (melody over chords, a fast scale, repeated notes, a wide
dynamic range), rendered with a SoundFont piano. A model that does not transcribe (untrained, wrong constants,
broken stitching) scores near 0; ONSET_F1_BAR is set well below what the shipped model measured on it
(the model card has the figure) and far above chance.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pretty_midi
import pytest

from piano_ai.evaluation.metrics import count_matches
from piano_ai.midi_io import midi_to_notes

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
ONSET_F1_BAR = 0.90  # the shipped model measured 0.98 here (2026-11-25; the 0.49 M model 0.96)
PIANO_AI = Path(sys.executable).with_name("piano-ai")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not shutil.which("fluidsynth") or not SOUNDFONT.exists(), reason="needs fluidsynth"),
]


def _passage() -> pretty_midi.PrettyMIDI:
    midi = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(program=0)
    t = 0.5
    for i, (chord, melody) in enumerate(
        [((48, 55, 64), 72), ((53, 57, 65), 77), ((55, 59, 62), 74), ((48, 52, 60), 79)]
    ):
        for p in chord:
            piano.notes.append(pretty_midi.Note(60 + 10 * i, p, t, t + 1.4))
        for k in range(4):
            piano.notes.append(
                pretty_midi.Note(70 + 12 * k, melody + (k % 2) * 2, t + k * 0.35, t + k * 0.35 + 0.3)
            )
        t += 1.5
    for k, p in enumerate([60, 62, 64, 65, 67, 69, 71, 72, 74, 76, 77, 79]):
        piano.notes.append(pretty_midi.Note(90, p, t + k * 0.15, t + k * 0.15 + 0.14))
    t += 2.2
    for k in range(6):
        piano.notes.append(pretty_midi.Note(40 + 15 * k, 67, t + k * 0.25, t + k * 0.25 + 0.2))
    for k, p in enumerate([33, 40, 45, 84, 88, 96]):
        piano.notes.append(pretty_midi.Note(100, p, t + 2.0 + k * 0.4, t + 2.0 + k * 0.4 + 0.35))
    midi.instruments.append(piano)
    return midi


def test_convert_transcribes_a_rendered_passage(tmp_path: Path) -> None:
    reference = tmp_path / "passage.mid"
    _passage().write(str(reference))
    audio = tmp_path / "passage.wav"
    subprocess.run(
        ["fluidsynth", "-ni", "-g", "0.7", "-F", str(audio), "-r", "16000", str(SOUNDFONT), str(reference)],
        check=True,
        capture_output=True,
    )
    out = tmp_path / "out"
    result = subprocess.run(
        [str(PIANO_AI), "convert", str(audio), "--out-dir", str(out)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    scores = count_matches(midi_to_notes(reference), midi_to_notes(out / "passage.mid")).scores()
    print(scores)
    assert scores["onset"]["f1"] >= ONSET_F1_BAR, scores
