"""The score stages composed: notes (and the audio, for beat tracking) -> beats -> tempo map -> quantized
notes -> hands -> key -> MusicXML. I/O stays with the callers (the CLI, the worker)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from piano_ai.constants import SAMPLE_RATE
from piano_ai.score.beats import Beats, track_beats
from piano_ai.score.tempo import TempoMap, tempo_map
from piano_ai.types import FloatArray, Note

NO_BEAT_REMARK = "no steady beat found: barred at 120 bpm in 4/4"


@dataclass(frozen=True)
class ScoreResult:
    """What the score stages made from one recording."""

    beats: Beats
    tempo: TempoMap  # for piano_ai.midi_io.write_midi: the MIDI's beats and bars are the tracked ones
    key: str  # e.g. "A- major" (music21's name: "-" is a flat)
    musicxml: bytes


def score_audio(audio: FloatArray, notes: list[Note], title: str = "Transcription") -> ScoreResult:
    """Track the beats of mono ``audio`` (SAMPLE_RATE) and make the score of its transcription ``notes``."""
    return score_notes(notes, track_beats(audio, notes, SAMPLE_RATE), audio.size / SAMPLE_RATE, title)


def score_notes(
    notes: list[Note], beats: Beats, duration_s: float, title: str = "Transcription"
) -> ScoreResult:
    """The score of ``notes`` on the grid of ``beats`` (see piano_ai.score.beats.track_beats)."""
    from piano_ai.score.hands import split_hands
    from piano_ai.score.key import estimate_key
    from piano_ai.score.musicxml import build_score, musicxml_bytes
    from piano_ai.score.quantize import chords, quantize

    end_s = max([duration_s] + [n.end for n in notes])
    tempo = tempo_map(beats, end_s)
    quantized = quantize(notes, tempo)
    right, left = split_hands(quantized)
    key = estimate_key(quantized)
    bpm = 60.0 / float(np.median(np.diff(beats.times))) if len(beats.times) > 1 else 120.0
    remark = "" if beats.found else NO_BEAT_REMARK
    score = build_score(chords(right), chords(left), tempo.signatures, key, bpm, title, remark)
    return ScoreResult(beats, tempo, f"{key.tonic.name} {key.mode}", musicxml_bytes(score))
