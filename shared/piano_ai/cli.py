"""The `piano-ai` command line: a thin router over the modules in piano_ai.commands.

Nothing heavy is imported here or at the top of a command module, so `piano-ai --help` is instant;
each command imports TensorFlow, librosa and the like inside its run().
"""

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence
from types import ModuleType

PROG = "piano-ai"
# Subcommand modules in help order; one that is not written yet is skipped.
COMMANDS = ("convert", "decode", "keys", "data", "train", "evaluate", "bench")


def available_commands() -> list[ModuleType]:
    """The command modules of COMMANDS that exist (an import error inside one is not hidden)."""
    modules = []
    for name in COMMANDS:
        qualified = f"piano_ai.commands.{name}"
        if importlib.util.find_spec(qualified) is not None:
            modules.append(importlib.import_module(qualified))
    return modules


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser; every subparser a module adds remembers that module as ``_command``."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="Transcribe piano recordings to MIDI, and build, train and evaluate the model."
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="show the version and exit")
    levels = ("DEBUG", "INFO", "WARNING", "ERROR")
    parser.add_argument("--log-level", choices=levels, help="log to stderr at this level")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for module in available_commands():
        before = set(subparsers.choices)
        module.register(subparsers)
        for name in set(subparsers.choices) - before:
            subparsers.choices[name].set_defaults(_command=module)
    return parser


class _Version(argparse.Action):
    """--version, looked up only when asked (importlib.metadata costs every run ~40 ms of start-up)."""

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            package_version = version("piano-ai")
        except PackageNotFoundError:
            package_version = "unknown"
        print(f"{PROG} {package_version}")
        parser.exit()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `piano-ai` script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    module = getattr(args, "_command", None)
    if module is None:
        parser.print_help(sys.stderr)
        return 2
    import logging

    from piano_ai.errors import PianoAIError

    if args.log_level:  # else each command decides (train logs INFO by itself)
        logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(module.run(args) or 0)
    except PianoAIError as exc:  # bad input or setup the command did not handle itself
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
