"""`piano-ai convert FILE... --out-dir DIR`: audio files to MIDI (and CSV/JSON note events).

The model is loaded once for the whole batch, and several files are converted at a time, their chunks
batched together (commands/convert_all.py). A file that fails is reported on one line
("piano-ai: <file>: <reason>") and the others are still converted; the exit status is 1 if any failed.
scripts/bench.py times the same convert_file().
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from piano_ai.commands import progress as display
from piano_ai.commands.note_options import KnobDefaultsFormatter, add_note_options, note_params
from piano_ai.runtimes import RUNTIMES

if TYPE_CHECKING:  # only for annotations: importing these at run time would slow down --help
    from piano_ai.activations import Heads
    from piano_ai.inference import Transcriber
    from piano_ai.pedal import Intervals
    from piano_ai.score.pipeline import ScoreResult
    from piano_ai.types import Activations, Note, NoteParams, ProgressCallback

log = logging.getLogger(__name__)

HELP = "transcribe piano recordings (wav, flac, mp3, ogg, m4a, aac, ...) to MIDI files"
EXIT_FAILED_FILES = 1  # some files could not be converted
EXIT_USAGE = 2  # bad options or no usable model


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert", help=HELP, description=HELP, formatter_class=KnobDefaultsFormatter
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="audio files to transcribe")
    parser.add_argument("-o", "--out-dir", required=True, type=Path, help="writes DIR/<stem>.mid per input")
    parser.add_argument(
        "--keep-extension",
        action="store_true",
        help="name outputs after the whole file name (DIR/a.wav.mid, DIR/a.mp3.mid), so inputs that share a"
        " stem do not collide; without it the second such input is refused",
    )
    parser.add_argument("--csv", action="store_true", help="also write DIR/<stem>.csv note events")
    parser.add_argument("--json", action="store_true", help="also write DIR/<stem>.json note events")
    parser.add_argument(
        "--score",
        action="store_true",
        help="track the beats: the MIDI gets a tempo map, DIR/<stem>.musicxml the sheet music and"
        " DIR/<stem>.quantized.mid the sheet music's notes as MIDI, at one tempo (slower)",
    )
    parser.add_argument(
        "--save-activations",
        action="store_true",
        help="also write DIR/<stem>.activations.npz, the model's outputs: `piano-ai decode` turns them into"
        " notes again with other thresholds, without the model",
    )
    parser.add_argument(
        "--model", metavar="DIR", help="model directory (default: PIANO_AI_MODEL_DIR, else the shipped model)"
    )
    parser.add_argument(
        "--runtime",
        choices=("auto", *RUNTIMES),
        help="inference runtime (default: PIANO_AI_RUNTIME, else auto; docs/benchmarks.md compares them)",
    )
    parser.add_argument(
        "--files-at-once",
        type=_positive,
        metavar="N",
        help="files converted at the same time, their chunks run by the model together: faster on many short"
        " files, more memory (default: 4, or 1 with --score, which holds whole recordings)",
    )
    add_note_options(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


@dataclass
class Result:
    """What converting one file produced, with wall seconds per stage (for the benchmark)."""

    source: Path
    outputs: list[Path] = field(default_factory=list)
    note_count: int = 0
    audio_s: float = 0.0
    stage_s: dict[str, float] = field(default_factory=dict)
    score_note: str = ""  # with --score: why the beat was not found, when it was not


def convert_file(
    source: Path,
    model: Transcriber,
    params: NoteParams,
    out_dir: Path,
    formats: tuple[str, ...] = ("mid",),
    progress: ProgressCallback | None = None,
    out_name: str | None = None,
) -> Result:
    """Transcribe ``source`` with a loaded Transcriber and write out_dir/<out_name>.<fmt> for each format.

    out_name: the outputs' base name (default: the source's stem; --keep-extension passes its full name).

    formats: any of "mid", "csv", "json", "musicxml", "quantized.mid", "activations.npz". With "musicxml" or
    "quantized.mid" (--score) the beats are tracked (piano_ai.score) and the MIDI file gets their tempo map;
    "activations.npz" keeps the model's outputs (piano_ai.activations). Raises PianoAIError for bad input.
    """
    from piano_ai import activations, midi_io

    result = Result(source)
    clock = _StageClock(progress)
    midi, musicxml, quantized = b"", b"", b""
    outputs: Activations | Heads | None
    with display.decoder_chatter_to_log(str(source)):
        if {"musicxml", "quantized.mid"} & set(formats):  # beat tracking reads the whole recording
            notes, sustain, outputs, score = _transcribe_with_score(source, model, params, clock, result)
            midi, musicxml, quantized = score.midi, score.musicxml, score.quantized_midi
            result.score_note = score.beats.note
        else:
            keep = "activations.npz" in formats
            notes, sustain, outputs = _transcribe_streaming(source, model, params, clock, result, keep)
    writers = {
        # with a score, the MIDI on its tempo map; else the notes (and pedal) at a fixed 120 bpm
        "mid": lambda path: (
            (path.write_bytes(midi) and path) if midi else midi_io.write_midi(notes, path, None, sustain)
        ),
        "csv": lambda path: midi_io.notes_to_csv(notes, path),
        "json": lambda path: midi_io.write_json(notes, path, sustain, params.pedal),
        "musicxml": lambda path: path.write_bytes(musicxml) and path,
        "quantized.mid": lambda path: path.write_bytes(quantized) and path,
        "activations.npz": lambda path: activations.save(outputs or {}, path),
    }
    for fmt in formats:
        result.outputs.append(writers[fmt](out_dir / f"{out_name or source.stem}.{fmt}"))
    clock("writing", 1.0)
    result.note_count = len(notes)
    result.stage_s = clock.durations
    return result


def _transcribe_streaming(
    source: Path,
    model: Transcriber,
    params: NoteParams,
    clock: _StageClock,
    result: Result,
    keep_activations: bool,
) -> tuple[list[Note], Intervals, Heads | None]:
    """Decode, features, model and notes block by block: memory does not grow with the recording (but for
    the kept activations, when asked for)."""
    from piano_ai.audio import declared_s, decode_blocks
    from piano_ai.transcribe import transcribe_blocks

    blocks = decode_blocks(source)
    found = transcribe_blocks(blocks, model, params, clock, declared_s(source), keep_activations)
    result.audio_s = found.audio_s
    return found.notes, found.sustain, found.activations


def _transcribe_with_score(
    source: Path, model: Transcriber, params: NoteParams, clock: _StageClock, result: Result
) -> tuple[list[Note], Intervals, Activations, ScoreResult]:
    """The whole recording in memory (the beat tracker needs it): notes, pedal, activations and the score
    (the MIDI on the tracked tempo map with the pedal, MusicXML with pedal marks, the quantized MIDI)."""
    from piano_ai import midi_io
    from piano_ai.audio import decode
    from piano_ai.constants import SAMPLE_RATE
    from piano_ai.score.pipeline import score_audio
    from piano_ai.transcribe import transcript

    clock("decoding", 0.0)
    audio = decode(source)
    clock("decoding", 1.0)
    result.audio_s = audio.size / SAMPLE_RATE
    transcribed = transcript(audio, model, params, clock)
    notes, sustain, outputs = transcribed.notes, transcribed.sustain, transcribed.activations
    midi = midi_io.midi_bytes(notes, sustain=sustain)
    score = score_audio(audio, notes, title=source.stem, midi=midi)  # the worker's score stage too
    clock("score", 1.0)
    return notes, sustain, outputs, score


class _StageClock:
    """A progress callback that also times stages: a stage ends at its last report."""

    def __init__(self, forward: ProgressCallback | None) -> None:
        self.forward = forward
        self.durations: dict[str, float] = {}
        self.last = time.perf_counter()

    def __call__(self, stage: str, fraction: float) -> None:
        now = time.perf_counter()
        self.durations[stage] = self.durations.get(stage, 0.0) + now - self.last
        self.last = now
        if self.forward is not None and stage in display.STAGE_WEIGHTS:
            self.forward(stage, fraction)


def conversion_plan(
    files: int, files_at_once: int | None = None, score: bool = False
) -> tuple[int, int, int]:
    """(files converted at once, threads per model call, model calls at once) for `piano-ai convert` of
    ``files`` files (scripts/bench.py's set pass converts as the CLI does with it)."""
    from piano_ai.commands.convert_all import FILES_AT_ONCE
    from piano_ai.runtimes import call_plan

    at_once = files_at_once or (1 if score else FILES_AT_ONCE)
    threads, calls_at_once = call_plan(min(at_once, files))
    return at_once, threads, calls_at_once


def run(args: argparse.Namespace) -> int:
    from piano_ai.commands.convert_all import convert_all
    from piano_ai.errors import PianoAIError

    at_once, threads, calls_at_once = conversion_plan(len(args.files), args.files_at_once, args.score)
    try:
        params = note_params(args)
        model = _load_model(args, threads)
    except PianoAIError as exc:
        print(f"piano-ai convert: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    formats = ("mid",) + tuple(fmt for fmt, wanted in (("csv", args.csv), ("json", args.json),
                                                      ("musicxml", args.score),
                                                      ("quantized.mid", args.score),
                                                      ("activations.npz", args.save_activations))
                               if wanted)  # fmt: skip
    try:
        args.out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"piano-ai convert: error: cannot create {args.out_dir}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    sources = [Path(f) for f in args.files]
    failed = convert_all(
        sources,
        model,
        params,
        args.out_dir,
        formats,
        args.quiet,
        args.keep_extension,
        at_once,
        calls_at_once,
    )
    return EXIT_FAILED_FILES if failed else 0


def _load_model(args: argparse.Namespace, threads: int | None = None) -> Transcriber:
    from piano_ai.inference import load_transcriber

    model_dir, runtime = args.model, args.runtime
    if (model_dir is None or runtime is None) and _settings_may_choose_the_model():
        from piano_ai.settings import get_settings

        settings = get_settings()
        model_dir, runtime = model_dir or settings.model_dir, runtime or settings.runtime
    return load_transcriber(model_dir, runtime=runtime or "auto", threads=threads)


def _settings_may_choose_the_model() -> bool:
    """Whether PIANO_AI_MODEL_DIR / PIANO_AI_RUNTIME may be set (in the environment, any case, or a .env
    file). Without them the settings hold their defaults, the shipped model on "auto", and are not read:
    importing pydantic-settings cost a conversion 0.1-0.3 s of start-up."""
    names = {"PIANO_AI_MODEL_DIR", "PIANO_AI_RUNTIME"}
    return Path(".env").exists() or any(name.upper() in names for name in os.environ)
