"""Golden file: the shipped model's notes for a fixed 8 s clip, pinned to the millisecond.

A change to decoding, features, inference, stitching, post-processing or the weights shows up here.
After an intended change (a new model) re-pin with `python scripts/update_golden.py`; say why in the commit.
"""

import json
from pathlib import Path

import pytest

from piano_ai.evaluation.metrics import count_matches
from piano_ai.inference import load_transcriber
from piano_ai.midi_io import midi_to_notes, notes_from_dicts
from piano_ai.transcribe import transcribe_file

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"
TIME_TOLERANCE_S = 0.002  # float differences between runtimes move a refined onset by microseconds, not ms
SANITY_ONSET_F1 = 0.65  # vs the reference: 0.76 measured; the clip (Chopin op. 25 no. 1) is dense


@pytest.mark.parametrize(
    ("runtime", "pin"),
    [("onnx", "clip.notes.json"), ("keras", "clip.notes.json"), ("onnx-int8", "clip.int8.notes.json")],
)
def test_transcription_matches_the_pinned_notes(runtime: str, pin: str) -> None:
    """The float32 runtimes share one pin; int8 weights have their own."""
    pinned = notes_from_dicts(json.loads((GOLDEN / pin).read_text()))
    notes = transcribe_file(GOLDEN / "clip.flac", load_transcriber(runtime=runtime))
    assert len(notes) == len(pinned)
    for got, want in zip(notes, pinned, strict=True):
        assert got.pitch == want.pitch
        assert got.start == pytest.approx(want.start, abs=TIME_TOLERANCE_S)
        assert got.end == pytest.approx(want.end, abs=TIME_TOLERANCE_S)
        assert abs(got.velocity - want.velocity) <= 1


@pytest.mark.parametrize("pin", ["clip.notes.json", "clip.int8.notes.json"])
def test_pinned_notes_transcribe_the_clip(pin: str) -> None:
    pinned = notes_from_dicts(json.loads((GOLDEN / pin).read_text()))
    scores = count_matches(midi_to_notes(GOLDEN / "clip.mid"), pinned).scores()
    assert scores["onset"]["f1"] >= SANITY_ONSET_F1, scores
