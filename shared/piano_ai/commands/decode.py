"""`piano-ai decode ACTIVATIONS.npz... --out-dir DIR`: notes again from saved model outputs, no model.

`piano-ai convert --save-activations` writes <stem>.activations.npz; this turns such a file into notes with
any thresholds in milliseconds (pure numpy: no TensorFlow, no ONNX Runtime), as the API's decode endpoint
does for a job. A file that fails is reported on one line and the others are still decoded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from piano_ai.commands.note_options import KnobDefaultsFormatter, add_note_options, note_params

if TYPE_CHECKING:
    from piano_ai.types import NoteParams

HELP = "turn saved model outputs (convert --save-activations) into MIDI again with other thresholds"
SUFFIX = ".activations.npz"  # piano_ai.activations.SUFFIX; repeated here to keep --help import-free
EXIT_FAILED_FILES = 1
EXIT_USAGE = 2


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "decode", help=HELP, description=HELP, formatter_class=KnobDefaultsFormatter
    )
    parser.add_argument("files", nargs="+", metavar="ACTIVATIONS", help=f"<stem>{SUFFIX} files")
    parser.add_argument("-o", "--out-dir", required=True, type=Path, help="writes DIR/<stem>.mid per input")
    parser.add_argument("--csv", action="store_true", help="also write DIR/<stem>.csv note events")
    parser.add_argument("--json", action="store_true", help="also write DIR/<stem>.json note events")
    add_note_options(parser)


def output_stem(source: Path) -> str:
    """take.activations.npz -> take (any other name loses its last suffix only)."""
    name = source.name
    return name[: -len(SUFFIX)] if name.endswith(SUFFIX) and len(name) > len(SUFFIX) else source.stem


def decode_file(
    source: Path, params: NoteParams, out_dir: Path, formats: tuple[str, ...]
) -> tuple[Path, int]:
    """Decode one activations file into out_dir/<stem>.<fmt> per format; returns (MIDI path, note count)."""
    from piano_ai import activations, midi_io
    from piano_ai.transcribe import decode_activations

    decoded = decode_activations(activations.load(source), params)
    notes, sustain = decoded.notes, decoded.sustain
    writers = {
        "mid": lambda path: midi_io.write_midi(notes, path, sustain=sustain),
        "csv": lambda path: midi_io.notes_to_csv(notes, path),
        "json": lambda path: midi_io.write_json(notes, path, sustain, params.pedal),
    }
    paths = [writers[fmt](out_dir / f"{output_stem(source)}.{fmt}") for fmt in formats]
    return paths[0], len(notes)


def run(args: argparse.Namespace) -> int:
    from piano_ai.errors import PianoAIError

    try:
        params = note_params(args)
        args.out_dir.mkdir(parents=True, exist_ok=True)
    except PianoAIError as exc:
        print(f"piano-ai decode: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"piano-ai decode: error: cannot create {args.out_dir}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    formats = ("mid",) + tuple(fmt for fmt, wanted in (("csv", args.csv), ("json", args.json)) if wanted)
    failed = 0
    for source in map(Path, args.files):
        try:
            midi, count = decode_file(source, params, args.out_dir, formats)
        except (PianoAIError, OSError) as exc:
            failed += 1
            reason = str(exc).removeprefix(f"{source}: ")  # the line names the file already
            print(f"piano-ai: {source}: {reason}", file=sys.stderr)
            continue
        print(f"{midi}  ({count} notes)")
    if failed:
        print(f"piano-ai: {failed} of {len(args.files)} files failed", file=sys.stderr)
    return EXIT_FAILED_FILES if failed else 0
