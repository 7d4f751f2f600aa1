"""Re-pin tests/unit/score/test_golden_score.py's files after an intended change (say why in the commit):
the beats madmom tracks on tests/data/golden/clip.flac, and the MusicXML made from the golden clip's pinned
notes on those beats."""

import json
from pathlib import Path

from piano_ai.audio import decode
from piano_ai.constants import SAMPLE_RATE
from piano_ai.midi_io import notes_from_dicts
from piano_ai.score.beats import track_beats
from piano_ai.score.pipeline import score_notes

TESTS = Path(__file__).resolve().parents[1] / "tests" / "data"
GOLDEN, SCORE = TESTS / "golden", TESTS / "score"
TITLE = "clip"


def main() -> None:
    notes = notes_from_dicts(json.loads((GOLDEN / "clip.notes.json").read_text()))
    audio = decode(GOLDEN / "clip.flac")
    beats = track_beats(audio, notes)
    (SCORE / "clip.beats.json").write_text(json.dumps(beats.to_dict(), indent=1) + "\n")
    result = score_notes(notes, beats, audio.size / SAMPLE_RATE, TITLE)
    (SCORE / "clip.musicxml").write_bytes(result.musicxml)
    print(f"pinned {len(beats.times)} beats, key {result.key}, {len(result.musicxml)} bytes of MusicXML")


if __name__ == "__main__":
    main()
