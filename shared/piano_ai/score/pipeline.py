"""The score stages composed: notes (and the audio, for beat tracking) -> beats -> tempo map -> quantized
notes -> hands -> key -> pedal -> MusicXML. I/O stays with the callers (the CLI, the worker), which both call
``score_audio``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from piano_ai.constants import SAMPLE_RATE
from piano_ai.score.beats import FALLBACK_BPM, Beats, fixed_beats, track_beats
from piano_ai.score.tempo import TempoMap, retime_midi, tempo_map
from piano_ai.types import FloatArray, Note, ProgressCallback

logger = logging.getLogger(__name__)

NO_BEAT_REMARK = "no steady beat found: barred at 120 bpm in 4/4"
# Longer recordings are not beat-tracked (barred at 120 bpm, with a note saying so): tracking costs about
# 10 s per minute of audio on one core (docs/score.md), and a job must end within its time limit.
MAX_TRACKED_S = 60 * 60.0
TRACKED_FRACTION = 0.9  # of the score stage's time, beat tracking takes about this much (docs/score.md)


@dataclass(frozen=True)
class ScoreResult:
    """What the score stages made from one recording."""

    beats: Beats
    tempo: TempoMap  # for piano_ai.midi_io.write_midi: the MIDI's beats and bars are the tracked ones
    key: str  # e.g. "A- major" (music21's name: "-" is a flat)
    musicxml: bytes
    bpm: float  # the median tracked tempo, beats per minute (the score's metronome mark)
    pedal_marks: int = 0  # sustain-pedal marks written (Ped. ... *)
    midi: bytes = b""  # the transcription's MIDI file on the tempo map (score_audio with ``midi``)
    quantized_midi: bytes = b""  # the score as MIDI: quantized notes, one constant tempo (quantized_midi.py)

    def summary(self) -> dict[str, Any]:
        """JSON-ready, for the job's results: {"found", "note", "key" ("Ab major"), "time_signature"
        ("3/4"), "tempo_bpm", "pedal_marks", "beats": [s...], "downbeats": [s...]}."""
        beats = self.beats.to_dict()
        return {
            "found": beats["found"],
            "note": beats["note"],
            "key": self.key.replace("-", "b"),
            "time_signature": self.beats.time_signature,
            "tempo_bpm": round(self.bpm, 1),
            "pedal_marks": self.pedal_marks,
            "beats": beats["beats"],
            "downbeats": beats["downbeats"],
        }


def score_audio(
    audio: FloatArray,
    notes: list[Note],
    title: str = "Transcription",
    midi: bytes | None = None,
    progress: ProgressCallback | None = None,
) -> ScoreResult:
    """Track the beats of mono ``audio`` (SAMPLE_RATE) and make the score of its transcription ``notes``.

    ``midi``: the transcription as a MIDI file (piano_ai.midi_io.midi_bytes): its sustain pedal (CC64, when
    present) becomes pedal marks, and ``ScoreResult.midi`` is that file on the tempo map. ``progress`` hears
    ("score", TRACKED_FRACTION) once the beats are tracked.
    Never raises for hard input: a recording with no steady beat, one too long to track or a tracker that
    fails gives the 120 bpm 4/4 grid and a note saying why (``ScoreResult.beats.note``).
    """
    from piano_ai.score.pedal import sustain_of_midi

    duration_s = audio.size / SAMPLE_RATE
    sustain = sustain_of_midi(midi) if midi else []
    if duration_s > MAX_TRACKED_S:
        minutes = f"{MAX_TRACKED_S / 60:g}"
        beats = fixed_beats(
            duration_s, f"no beat tracking: recordings over {minutes} min are barred at 120 bpm"
        )
    else:
        try:
            beats = track_beats(audio, notes, SAMPLE_RATE)
        except Exception as exc:  # a tracker bug must not cost the user the transcription
            logger.exception("beat tracking failed")
            beats = fixed_beats(duration_s, f"beat tracking failed ({type(exc).__name__}): barred at 120 bpm")
    if progress is not None:
        progress("score", TRACKED_FRACTION)
    try:
        result = score_notes(notes, beats, duration_s, title, sustain)
    except Exception as exc:
        if not beats.found:
            raise
        logger.exception("engraving on the tracked beats failed; barring at 120 bpm")
        note = f"the score on the tracked beats failed ({type(exc).__name__}): barred at 120 bpm"
        result = score_notes(notes, fixed_beats(duration_s, note), duration_s, title, sustain)
    if midi:
        result = ScoreResult(**{**vars(result), "midi": retime_midi(midi, result.tempo)})
    return result


def score_notes(
    notes: list[Note],
    beats: Beats,
    duration_s: float,
    title: str = "Transcription",
    sustain: list[tuple[float, float]] | None = None,
) -> ScoreResult:
    """The score of ``notes`` on the grid of ``beats`` (see piano_ai.score.beats.track_beats), with pedal
    marks for ``sustain`` ((down, up) seconds of the sustain pedal; up may be inf)."""
    from piano_ai.score.hands import split_hands
    from piano_ai.score.key import estimate_key
    from piano_ai.score.musicxml import build_score, musicxml_bytes
    from piano_ai.score.pedal import sustain_beats
    from piano_ai.score.quantize import chords, quantize
    from piano_ai.score.quantized_midi import quantized_midi_bytes

    end_s = max([duration_s] + [n.end for n in notes])
    tempo = tempo_map(beats, end_s)
    quantized = quantize(notes, tempo)
    right, left = split_hands(quantized)
    key = estimate_key(quantized)
    bpm = 60.0 / float(np.median(np.diff(beats.times))) if len(beats.times) > 1 else FALLBACK_BPM
    remark = "" if beats.found else NO_BEAT_REMARK
    pedals = sustain_beats(sustain or [], tempo)
    signatures, unit = tempo.time_signatures(), tempo.beat_quarters
    score, marks = build_score(chords(right), chords(left), signatures, key, bpm, title, remark, pedals, unit)
    as_midi = quantized_midi_bytes(right, left, tempo, key, bpm, pedals)
    name = f"{key.tonic.name} {key.mode}"
    return ScoreResult(beats, tempo, name, musicxml_bytes(score), bpm, marks, quantized_midi=as_midi)
