"""The whole path from audio to notes, composed from the pure stages.

decode -> features -> model -> notes. I/O (storage, DB, HTTP) stays with the callers.
transcribe() takes the whole recording; transcribe_blocks() takes it block by block as it is decoded and
runs every stage on each block as it arrives, so memory does not grow with the recording. Both give the
same notes.
"""

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from piano_ai.types import FloatArray, Note, NoteParams, ProgressCallback

PREFETCH_BLOCKS = 2  # decoded blocks (8 s each) made ahead while the model runs

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
    return notes


class Transcribed(NamedTuple):
    """What transcribe_blocks found, and how long the audio it read was."""

    notes: list[Note]
    audio_s: float  # seconds of audio at SAMPLE_RATE


def transcribe_blocks(
    blocks: Iterable[FloatArray],
    model: "Transcriber",
    params: NoteParams | None = None,
    progress: ProgressCallback | None = None,
    expected_s: float | None = None,
) -> Transcribed:
    """Transcribe mono float32 audio at SAMPLE_RATE that arrives in blocks of shape (samples,).

    Each block goes through features, model and notes as it arrives (the next is decoded meanwhile, in a
    thread), and nothing the size of the recording is kept. ``expected_s`` (the length a header declares)
    lets progress report "inference" fractions as the audio is read. The notes equal transcribe()'s.
    """
    from piano_ai.constants import SAMPLE_RATE
    from piano_ai.features import LogMelStream
    from piano_ai.note_stream import NoteStream
    from piano_ai.prefetch import prefetch

    notes = NoteStream(params)
    report = progress or _noop
    samples = 0

    def mel_blocks() -> Iterator[FloatArray]:
        nonlocal samples
        features = LogMelStream()
        report("decoding", 0.0)
        for audio in prefetch(blocks, PREFETCH_BLOCKS):
            samples += audio.size
            yield from features.push(audio)
            if expected_s:
                report("inference", min(samples / SAMPLE_RATE / expected_s, 1.0))
        yield from features.finish()

    for activations in model.stream(mel_blocks()):
        notes.push(activations)
    report("postprocessing", 0.0)
    found = notes.finish()
    report("postprocessing", 1.0)
    return Transcribed(found, samples / SAMPLE_RATE)


def transcribe_file(
    path: str | Path,
    model: "Transcriber",
    params: NoteParams | None = None,
    progress: ProgressCallback | None = None,
    max_s: float | None = None,
) -> list[Note]:
    """Decode an audio file (any format ffmpeg reads) and transcribe it, block by block."""
    from piano_ai.audio import declared_s, decode_blocks

    blocks = decode_blocks(path, max_s=max_s)
    return transcribe_blocks(blocks, model, params, progress, declared_s(path)).notes
