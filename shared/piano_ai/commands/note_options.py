"""The note-detection options `convert` and `decode` share: --onset-threshold and friends.

Their defaults are NoteParams', stated in --help by KnobDefaultsFormatter, so help and code cannot disagree.
Nothing heavy is imported at the top: `piano-ai --help` stays instant.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from piano_ai.types import NoteParams

KNOBS = ("onset_threshold", "frame_threshold", "offset_threshold", "min_note_ms", "pedal", "ends")


def add_note_options(parser: argparse.ArgumentParser) -> None:
    """Add the note-detection group (each option defaults to NoteParams' value when not given)."""
    knobs = parser.add_argument_group("note detection (defaults from piano_ai.types.NoteParams)")
    knobs.add_argument(
        "--onset-threshold", type=float, help="how sure the onset network must be that a peak starts a note"
    )
    knobs.add_argument(
        "--ends",
        choices=("network", "rule"),
        help="network: a network chooses where each note ends; rule: by the two thresholds below",
    )
    knobs.add_argument(
        "--frame-threshold", type=float, help="with --ends rule: frame probability that keeps a note sounding"
    )
    knobs.add_argument(
        "--offset-threshold", type=float, help="with --ends rule: offset probability that ends it early"
    )
    knobs.add_argument("--min-note-ms", type=float, help="drop notes shorter than this, milliseconds")
    knobs.add_argument(
        "--pedal",
        choices=("cc64", "extend"),
        help="cc64: the MIDI carries the sustain pedal (CC64); extend: notes lengthened by it, no CC64",
    )


def note_params(args: argparse.Namespace) -> NoteParams:
    """The NoteParams the options chose, validated (InvalidParametersError when out of range)."""
    from piano_ai.types import NoteParams

    given = {name: getattr(args, name) for name in KNOBS if getattr(args, name) is not None}
    return NoteParams(**given).validate()


class KnobDefaultsFormatter(argparse.HelpFormatter):
    """Appends NoteParams' default to each note-detection option's help, so the two cannot disagree.

    NoteParams is imported only when the help is printed (it pulls in numpy): `piano-ai --help` stays fast.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        from dataclasses import fields

        from piano_ai.types import NoteParams

        text = super()._get_help_string(action)
        if text and action.dest in {f.name for f in fields(NoteParams)}:
            default = getattr(NoteParams(), action.dest)
            text = f"{text} ({default:g})" if isinstance(default, float) else f"{text} ({default})"
        return text
