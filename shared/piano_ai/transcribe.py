"""The whole path from audio to notes, composed from the pure stages.

decode -> features -> model -> notes. I/O (storage, DB, HTTP) stays with the callers.
"""

from pathlib import Path
from typing import TYPE_CHECKING

from piano_ai.types import Activations, FloatArray, Note, NoteParams, ProgressCallback

if TYPE_CHECKING:  # the model module imports TensorFlow lazily; only its type is needed here
    from piano_ai.inference import Transcriber


def _noop(stage: str, fraction: float) -> None:
    pass


def transcribe(
    audio: FloatArray,
    model: "Transcriber",
    params: NoteParams | None = None,
    progress: ProgressCallback | None = None,
) -> list[Note]:
    """Transcribe mono float32 audio at SAMPLE_RATE (shape (samples,)) into notes."""
    return transcribe_with_activations(audio, model, params, progress)[0]


def transcribe_with_activations(
    audio: FloatArray,
    model: "Transcriber",
    params: NoteParams | None = None,
    progress: ProgressCallback | None = None,
) -> tuple[list[Note], Activations]:
    """transcribe(), also returning the model's activations (kept to decode again: piano_ai.activations)."""
    from piano_ai.features import log_mel
    from piano_ai.notes import notes_from_activations

    params = (params or NoteParams()).validate()
    report = progress or _noop
    report("features", 0.0)
    mel = log_mel(audio)
    report("features", 1.0)
    activations = model.predict(mel, progress=lambda f: report("inference", f))
    report("postprocessing", 0.0)
    notes = notes_from_activations(activations, params)
    report("postprocessing", 1.0)
    return notes, activations


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
