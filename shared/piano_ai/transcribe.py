"""The whole path from audio to notes, composed from the pure stages.

decode -> features -> model -> notes. I/O (storage, DB, HTTP) stays with the callers.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from piano_ai.types import Activations, FloatArray, Note, NoteParams, ProgressCallback

if TYPE_CHECKING:  # the model module imports TensorFlow lazily; only its type is needed here
    from piano_ai.inference import Transcriber


def _noop(stage: str, fraction: float) -> None:
    pass


@dataclass(frozen=True)
class Transcript:
    """What transcribing one recording gives."""

    notes: list[Note]  # sorted by (start, pitch); with pedal "extend", lengthened by the sustain pedal
    sustain: list[tuple[float, float]]  # (down, up) s of the pedal to write as CC64; [] in "extend" mode
    activations: Activations  # the model's outputs, for re-decoding without the model


def transcript(
    audio: FloatArray,
    model: "Transcriber",
    params: NoteParams | None = None,
    progress: ProgressCallback | None = None,
) -> Transcript:
    """Transcribe mono float32 audio at SAMPLE_RATE (shape (samples,)): notes, pedal and activations."""
    from piano_ai.features import log_mel

    params = (params or NoteParams()).validate()
    report = progress or _noop
    report("features", 0.0)
    mel = log_mel(audio)
    report("features", 1.0)
    activations = model.predict(mel, progress=lambda f: report("inference", f))
    report("postprocessing", 0.0)
    result = decode_activations(activations, params)
    report("postprocessing", 1.0)
    return result


def decode_activations(activations: Activations, params: NoteParams | None = None) -> Transcript:
    """Notes and sustain pedal from a model's activations (pure numpy: no model needed)."""
    from piano_ai.notes import notes_from_activations
    from piano_ai.pedal import extend_notes, sustain_intervals

    params = (params or NoteParams()).validate()
    notes = notes_from_activations(activations, params)
    sustain = sustain_intervals(activations.pedal) if activations.pedal is not None else []
    if params.pedal == "extend":
        return Transcript(extend_notes(notes, sustain), [], activations)
    return Transcript(notes, sustain, activations)


def transcribe(
    audio: FloatArray,
    model: "Transcriber",
    params: NoteParams | None = None,
    progress: ProgressCallback | None = None,
) -> list[Note]:
    """Transcribe mono float32 audio at SAMPLE_RATE (shape (samples,)) into notes."""
    return transcript(audio, model, params, progress).notes


def transcribe_file(
    path: str | Path,
    model: "Transcriber",
    params: NoteParams | None = None,
    progress: ProgressCallback | None = None,
) -> list[Note]:
    """Decode an audio file (any format ffmpeg reads) and transcribe it."""
    from piano_ai.audio import decode

    report = progress or _noop
    report("decoding", 0.0)
    audio = decode(path)
    report("decoding", 1.0)
    return transcribe(audio, model, params, progress)
