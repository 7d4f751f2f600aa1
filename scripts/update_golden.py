"""Re-pin the golden transcription after the shipped model changes: `python scripts/update_golden.py`.

tests/data/golden/clip.flac is 8 s of a held-out ASAP performance (a validation piece) rendered with the
MuseScore SoundFont; clip.mid is its reference. This writes clip.notes.json, the shipped model's notes for the
clip in float32, and clip.int8.notes.json, those of its int8 weights (runtime onnx-int8), which
tests/unit/test_golden.py then expects to the millisecond.
"""

import json
import subprocess
import tempfile
from pathlib import Path

import pretty_midi

from piano_ai.inference import load_transcriber
from piano_ai.midi_io import note_to_dict
from piano_ai.transcribe import transcribe_file

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "data" / "golden"
SOURCE = "Chopin/Etudes_op_25/1"  # a validation piece: the sha1 split keeps it out of every training set
SOUNDFONT = "/usr/share/sounds/sf2/MuseScore_General_Full.sf2"
START_S, LENGTH_S = 20.0, 8.0


def render_clip() -> None:
    """Cut the excerpt from the performance and render it to clip.flac (done once; the clip is committed)."""
    from piano_ai.data.excerpt import excerpt
    from piano_ai.data.plan import asap_performances
    from piano_ai.data.render import TRAINING_DATA
    from piano_ai.data.targets import pedal_extended_notes
    from piano_ai.midi_io import write_midi

    performance = asap_performances(TRAINING_DATA / "performance-midi" / "asap" / SOURCE)[0]
    midi = excerpt(pretty_midi.PrettyMIDI(str(performance)), START_S, LENGTH_S - 1.0, LENGTH_S, 1.0)
    with tempfile.TemporaryDirectory() as tmp:
        mid, wav = Path(tmp) / "clip.mid", Path(tmp) / "clip.wav"
        midi.write(str(mid))
        subprocess.run(
            ["fluidsynth", "-ni", "-g", "0.7", "-F", str(wav), "-r", "16000", SOUNDFONT, str(mid)],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                "ffmpeg",
                "-y",
                "-loglevel",
                "error",
                "-i",
                str(wav),
                "-t",
                str(LENGTH_S),
                "-ac",
                "1",
                str(GOLDEN / "clip.flac"),
            ],
            check=True,
        )
    write_midi(pedal_extended_notes(midi), GOLDEN / "clip.mid")


def main() -> None:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    if not (GOLDEN / "clip.flac").exists():
        render_clip()
    # float32 (onnx and keras agree to 1e-6) and int8 weights
    for runtime, name in (("onnx", "clip.notes.json"), ("onnx-int8", "clip.int8.notes.json")):
        notes = transcribe_file(GOLDEN / "clip.flac", load_transcriber(runtime=runtime))
        (GOLDEN / name).write_text(json.dumps([note_to_dict(n) for n in notes], indent=1) + "\n")
        print(f"pinned {len(notes)} notes in {GOLDEN / name} ({runtime})")


if __name__ == "__main__":
    main()
