"""Golden files for the score: the golden clip's pinned notes (tests/data/golden, Chopin op. 25 no. 1) on
its pinned beats make a pinned MusicXML, and madmom still tracks those beats on the clip's audio.

After an intended change re-pin with `python scripts/update_score_golden.py`; say why in the commit.
"""

import json
import re
from pathlib import Path

import music21
import numpy as np
import pytest

from piano_ai.audio import decode
from piano_ai.constants import SAMPLE_RATE
from piano_ai.midi_io import notes_from_dicts
from piano_ai.score.beats import Beats, fixed_beats, track_beats
from piano_ai.score.pipeline import NO_BEAT_REMARK, score_notes
from piano_ai.score.quantize import quantize
from piano_ai.score.tempo import tempo_map
from piano_ai.types import Note

DATA = Path(__file__).resolve().parents[2] / "data"
CLIP = DATA / "golden" / "clip.flac"
BEAT_TOLERANCE_S = 0.011  # madmom's beats are on a 10 ms frame grid
ENCODING_DATE = re.compile(rb"<encoding-date>[^<]*</encoding-date>")  # the day it was written


@pytest.fixture(scope="module")
def notes() -> list[Note]:
    return notes_from_dicts(json.loads((DATA / "golden" / "clip.notes.json").read_text()))


@pytest.fixture(scope="module")
def beats() -> Beats:
    return Beats.from_dict(json.loads((DATA / "score" / "clip.beats.json").read_text()))


def test_musicxml_matches_the_pinned_file(notes: list[Note], beats: Beats) -> None:
    result = score_notes(notes, beats, decode(CLIP).size / SAMPLE_RATE, "clip")
    assert result.key == "A- major"  # the piece's key: A-flat major
    pinned = (DATA / "score" / "clip.musicxml").read_bytes()
    assert ENCODING_DATE.sub(b"", result.musicxml) == ENCODING_DATE.sub(b"", pinned)


def test_pinned_musicxml_is_a_two_staff_piano_score(notes: list[Note], beats: Beats) -> None:
    score = music21.converter.parse(DATA / "score" / "clip.musicxml")
    treble, bass = score.parts
    assert isinstance(treble.recurse().getElementsByClass("Clef").first(), music21.clef.TrebleClef)
    assert isinstance(bass.recurse().getElementsByClass("Clef").first(), music21.clef.BassClef)
    assert score.recurse().getElementsByClass("KeySignature").first().sharps == -4
    quantized = quantize(notes, tempo_map(beats, max(n.end for n in notes)))
    assert sorted(struck(score)) == sorted(
        q.pitch for q in {(q.pitch, q.onset): q for q in quantized}.values()
    )
    assert min(p.midi for n in bass.recurse().notes for p in n.pitches) < 48  # the bass is in the bass staff


@pytest.mark.slow
def test_madmom_tracks_the_pinned_beats(notes: list[Note], beats: Beats) -> None:
    tracked = track_beats(decode(CLIP), notes)
    assert tracked.positions == beats.positions
    np.testing.assert_allclose(tracked.times, beats.times, atol=BEAT_TOLERANCE_S)


@pytest.mark.parametrize(
    "notes",
    [[], [Note(60, 0.3, 3.9, 80), Note(64, 0.31, 3.9, 80), Note(67, 0.32, 3.9, 80)]],
    ids=["silence", "one chord"],
)
def test_no_steady_beat_still_makes_a_score_that_says_so(notes: list[Note]) -> None:
    result = score_notes(notes, fixed_beats(4.0, "no steady beat"), 4.0)
    assert NO_BEAT_REMARK.encode() in result.musicxml
    score = music21.converter.parse(result.musicxml)
    assert len(score.parts) == 2
    assert sorted(struck(score)) == [n.pitch for n in notes]


def struck(score: music21.stream.Score) -> list[int]:
    """MIDI pitches of every note head that is struck (not the continuation of a tie)."""
    return [p.midi for n in score.recurse().notes for p in n.pitches if not n.tie or n.tie.type == "start"]
