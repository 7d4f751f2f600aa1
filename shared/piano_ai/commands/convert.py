"""`piano-ai convert FILE... --out-dir DIR`: audio files to MIDI (and CSV/JSON note events).

The model is loaded once for the whole batch. A file that fails is reported on one line
("piano-ai: <file>: <reason>") and the others are still converted; the exit status is 1 if any failed.
scripts/bench.py times the same convert_file().
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from piano_ai.commands import progress as display

if TYPE_CHECKING:  # only for annotations: importing these at run time would slow down --help
    from piano_ai.inference import Transcriber
    from piano_ai.types import NoteParams, ProgressCallback

log = logging.getLogger(__name__)

HELP = "transcribe piano recordings (wav, flac, mp3, ogg, m4a, ...) to MIDI files"
EXIT_FAILED_FILES = 1  # some files could not be converted
EXIT_USAGE = 2  # bad options or no usable model


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert", help=HELP, description=HELP, formatter_class=_KnobDefaultsFormatter
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
        help="track the beats: the MIDI gets a tempo map, DIR/<stem>.musicxml the sheet music (slower)",
    )
    parser.add_argument(
        "--model", metavar="DIR", help="model directory (default: PIANO_AI_MODEL_DIR, else the shipped model)"
    )
    parser.add_argument(
        "--runtime", choices=("auto", "onnx", "keras"), help="inference runtime (default: PIANO_AI_RUNTIME)"
    )
    knobs = parser.add_argument_group("note detection (defaults from piano_ai.types.NoteParams)")
    knobs.add_argument("--onset-threshold", type=float, help="onset probability that starts a note")
    knobs.add_argument("--frame-threshold", type=float, help="frame probability that keeps it sounding")
    knobs.add_argument("--offset-threshold", type=float, help="offset probability that ends it early")
    knobs.add_argument("--min-note-ms", type=float, help="drop notes shorter than this, milliseconds")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


class _KnobDefaultsFormatter(argparse.HelpFormatter):
    """Appends NoteParams' default to each note-detection option's help, so the two cannot disagree.

    NoteParams is imported only when the help is printed (it pulls in numpy): `piano-ai --help` stays fast.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        from dataclasses import fields

        from piano_ai.types import NoteParams

        text = super()._get_help_string(action)
        if text and action.dest in {f.name for f in fields(NoteParams)}:
            text = f"{text} ({getattr(NoteParams(), action.dest):g})"
        return text


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

    formats: any of "mid", "csv", "json", "musicxml". With "musicxml" (--score) the beats are tracked
    (piano_ai.score) and the MIDI file gets their tempo map. Raises PianoAIError for bad input.
    """
    from piano_ai import midi_io
    from piano_ai.audio import decode
    from piano_ai.constants import SAMPLE_RATE
    from piano_ai.transcribe import transcribe

    result = Result(source)
    clock = _StageClock(progress)
    # transcribe_file() without hiding the audio: the duration is reported per file.
    clock("decoding", 0.0)
    with display.decoder_chatter_to_log(str(source)):
        audio = decode(source)
    clock("decoding", 1.0)
    result.audio_s = audio.size / SAMPLE_RATE
    notes = transcribe(audio, model, params, clock)
    midi, musicxml = midi_io.midi_bytes(notes), b""
    if "musicxml" in formats:
        from piano_ai.score.pipeline import score_audio

        score = score_audio(audio, notes, title=source.stem, midi=midi)  # the worker's score stage too
        clock("score", 1.0)
        midi, musicxml, result.score_note = score.midi, score.musicxml, score.beats.note
    writers = {
        "mid": lambda path: path.write_bytes(midi) and path,
        "csv": lambda path: midi_io.notes_to_csv(notes, path),
        "json": lambda path: midi_io.write_json(notes, path),
        "musicxml": lambda path: path.write_bytes(musicxml) and path,
    }
    for fmt in formats:
        result.outputs.append(writers[fmt](out_dir / f"{out_name or source.stem}.{fmt}"))
    clock("writing", 1.0)
    result.note_count = len(notes)
    result.stage_s = clock.durations
    return result


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


def run(args: argparse.Namespace) -> int:
    from piano_ai.errors import PianoAIError

    try:
        params = _params(args)
        model = _load_model(args)
    except PianoAIError as exc:
        print(f"piano-ai convert: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    formats = ("mid",) + tuple(fmt for fmt, wanted in (("csv", args.csv), ("json", args.json),
                                                      ("musicxml", args.score)) if wanted)  # fmt: skip
    try:
        args.out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"piano-ai convert: error: cannot create {args.out_dir}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    sources = [Path(f) for f in args.files]
    failed = _convert_all(sources, model, params, args.out_dir, formats, args.quiet, args.keep_extension)
    return EXIT_FAILED_FILES if failed else 0


def _params(args: argparse.Namespace) -> NoteParams:
    from piano_ai.types import NoteParams

    given = {
        name: getattr(args, name)
        for name in ("onset_threshold", "frame_threshold", "offset_threshold", "min_note_ms")
        if getattr(args, name) is not None
    }
    return NoteParams(**given).validate()


def _load_model(args: argparse.Namespace) -> Transcriber:
    from piano_ai.inference import load_transcriber
    from piano_ai.settings import get_settings

    settings = get_settings()
    return load_transcriber(args.model or settings.model_dir, runtime=args.runtime or settings.runtime)


def _convert_all(
    sources: list[Path],
    model: Transcriber,
    params: NoteParams,
    out_dir: Path,
    formats: tuple[str, ...],
    quiet: bool,
    keep_extension: bool = False,
) -> int:
    """Convert each file, reporting failures on stderr as they happen; returns how many failed."""
    from tqdm import tqdm

    from piano_ai.errors import PianoAIError

    failed = 0
    claimed: dict[str, Path] = {}
    files_bar = tqdm(sources, desc="files", unit="file", file=sys.stderr, disable=quiet or None, position=0)
    stage_bar = display.stage_bar(sys.stderr, disable=quiet or None)
    for source in files_bar:
        stage_bar.reset()
        stage_bar.set_description_str(display.short_name(source.name))
        try:
            out_name = source.name if keep_extension else source.stem
            if out_name in claimed:
                hint = "" if keep_extension else " (--keep-extension keeps both: <name>.<ext>.mid)"
                raise PianoAIError(f"output name {out_name}.mid is already used by {claimed[out_name]}{hint}")
            report = display.bar_progress(stage_bar)
            result = convert_file(source, model, params, out_dir, formats, report, out_name)
        except (PianoAIError, OSError) as exc:
            failed += 1
            tqdm.write(f"piano-ai: {source}: {_reason(exc, source)}", file=sys.stderr)
            continue
        except Exception as exc:  # keep converting the rest; the traceback goes to the log
            failed += 1
            log.debug("converting %s failed", source, exc_info=True)
            tqdm.write(f"piano-ai: {source}: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        claimed[out_name] = source
        tqdm.write(
            f"{result.outputs[0]}  ({result.note_count} notes, {result.audio_s:.1f} s)", file=sys.stdout
        )
        if result.score_note:
            tqdm.write(f"piano-ai: {source}: {result.score_note}", file=sys.stderr)
    stage_bar.close()
    files_bar.close()
    if failed:
        print(f"piano-ai: {failed} of {len(sources)} files failed", file=sys.stderr)
    return failed


def _reason(exc: Exception, source: Path) -> str:
    """The error message without a leading '<file>: ' (the line already names the file)."""
    text = str(exc)
    for prefix in (f"{source}: ", f"{source.name}: "):
        text = text.removeprefix(prefix)
    if isinstance(exc, OSError) and exc.strerror:
        text = f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return text
