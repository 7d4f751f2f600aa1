"""The whole path from audio to notes, composed from the pure stages.

decode -> features -> model -> notes. I/O (storage, DB, HTTP) stays with the callers.
transcribe() takes the whole recording; transcribe_blocks() takes it block by block as it is decoded and
runs every stage on each block as it arrives, so memory does not grow with the recording. Both give the
same notes.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import numpy.typing as npt

from piano_ai.types import Activations, FloatArray, Note, NoteParams, ProgressCallback

PREFETCH_BLOCKS = 2  # decoded blocks (8 s each) made ahead while the model runs

if TYPE_CHECKING:  # the model module imports TensorFlow lazily; only its type is needed here
    from piano_ai.inference import Transcriber
    from piano_ai.note_nets import NoteNets


def _noop(stage: str, fraction: float) -> None:
    pass


def _nets(model: "Transcriber") -> "NoteNets":
    """The networks fitted for this model (its directory's onsets.npz, ends.npz, sustain.npz), else the
    shipped ones."""
    from piano_ai.note_nets import nets_for

    model_dir = getattr(model, "model_dir", None)
    return nets_for(Path(model_dir) if isinstance(model_dir, str | Path) else None)


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
    result = decode_activations(activations, params, _nets(model))
    report("postprocessing", 1.0)
    return result


def decode_activations(
    activations: Activations, params: NoteParams | None = None, nets: "NoteNets | None" = None
) -> Transcript:
    """Notes and sustain pedal from a model's activations (pure numpy: no model needed). ``nets`` judge
    the onset peaks, choose the ends and find the pedal (None: the shipped model's networks)."""
    from piano_ai.note_nets import shipped_nets
    from piano_ai.notes import notes_from_activations
    from piano_ai.sustain import sums_of

    params = (params or NoteParams()).validate()
    nets = nets or shipped_nets()
    notes = notes_from_activations(activations, params, nets)
    notes, sustain = _with_pedal(notes, sums_of(activations), params, nets)
    return Transcript(notes, sustain, activations)


def transcribe(
    audio: FloatArray,
    model: "Transcriber",
    params: NoteParams | None = None,
    progress: ProgressCallback | None = None,
) -> list[Note]:
    """Transcribe mono float32 audio at SAMPLE_RATE (shape (samples,)) into notes."""
    return transcript(audio, model, params, progress).notes


class Transcribed(NamedTuple):
    """What transcribe_blocks found, and how long the audio it read was."""

    notes: list[Note]  # with pedal "extend", lengthened by the sustain pedal
    audio_s: float  # seconds of audio at SAMPLE_RATE
    sustain: list[tuple[float, float]] = []  # (down, up) s of the pedal to write as CC64; [] in "extend" mode
    # with keep_activations: every head's outputs, quantized (piano_ai.activations), to store and re-decode
    activations: dict[str, npt.NDArray[np.uint8]] | None = None


def transcribe_blocks(
    blocks: Iterable[FloatArray],
    model: "Transcriber",
    params: NoteParams | None = None,
    progress: ProgressCallback | None = None,
    expected_s: float | None = None,
    keep_activations: bool = False,
) -> Transcribed:
    """Transcribe mono float32 audio at SAMPLE_RATE that arrives in blocks of shape (samples,).

    Each block goes through features, model and notes as it arrives (the next is decoded meanwhile, in a
    thread), and nothing the size of the recording is kept. ``expected_s`` (the length a header declares)
    lets progress report "inference" fractions as the audio is read. The notes equal transcribe()'s.
    ``keep_activations`` also keeps the model's outputs, quantized to uint8 (piano_ai.activations): 1 byte
    per head (and the levels) and key per frame, 149 MB for 3 hours, so this is the one part that grows with
    the recording.
    """
    from piano_ai.activations import quantize
    from piano_ai.constants import SAMPLE_RATE
    from piano_ai.features import LogMelStream
    from piano_ai.note_stream import NoteStream
    from piano_ai.prefetch import prefetch
    from piano_ai.sustain import frame_sums

    nets = _nets(model)
    notes = NoteStream(params, nets)
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

    sums: list[FloatArray] = []  # (frames, 5) per block: small enough to keep whole (6.7 MB for 3 h)
    kept: dict[str, list[npt.NDArray[np.uint8]]] = {}
    for activations in model.stream(mel_blocks()):
        notes.push(activations)
        if activations.get("pedal") is not None:
            sums.append(frame_sums(*(activations[head] for head in ("onset", "frame", "offset", "pedal"))))
        if keep_activations:
            for head, values in activations.items():
                if values is not None:
                    kept.setdefault(head, []).append(quantize(values))
    report("inference", 1.0)  # the last batches run after the audio ends: their time is inference's
    report("postprocessing", 0.0)
    found, sustain = _with_pedal(notes.finish(), np.concatenate(sums) if sums else None, params, nets)
    report("postprocessing", 1.0)
    outputs = {head: np.concatenate(blocks) for head, blocks in kept.items()} if keep_activations else None
    return Transcribed(found, samples / SAMPLE_RATE, sustain, outputs)


def _with_pedal(
    notes: list[Note], sums: FloatArray | None, params: NoteParams | None, nets: "NoteNets"
) -> tuple[list[Note], list[tuple[float, float]]]:
    """(notes, sustain to write as CC64) from the frames' sustain.frame_sums (None: no pedal head):
    NoteParams.pedal "extend" folds the pedal into the notes instead."""
    from piano_ai.pedal import extend_notes, sustain_intervals
    from piano_ai.sustain import THRESHOLD, probability

    sustain = sustain_intervals(probability(sums, nets.sustain), THRESHOLD) if sums is not None else []
    if (params or NoteParams()).pedal == "extend":
        return extend_notes(notes, sustain), []
    return notes, sustain


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
