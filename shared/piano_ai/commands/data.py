"""`piano-ai data build`: render a training dataset (log-mel + piano-roll shards) from MIDI."""

import argparse

HELP = "build training data: render MIDI with several pianos, augment, write log-mel + target shards"
BUILD_HELP = "render a dataset into a folder or gs://bucket/prefix (manifest.json is written last)"


def register(subparsers: argparse._SubParsersAction) -> None:
    from piano_ai.data.options import add_arguments  # argparse only: cheap to import

    parser = subparsers.add_parser("data", help=HELP, description=HELP)
    actions = parser.add_subparsers(title="actions", metavar="ACTION", dest="data_action", required=True)
    build = actions.add_parser("build", help=BUILD_HELP, description=BUILD_HELP)
    add_arguments(build)


def run(args: argparse.Namespace) -> int:
    import logging

    from piano_ai.data.build import build

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    manifest = build(args)
    logging.getLogger(__name__).info(
        "wrote %d shards to %s: %.2f h train, %.2f h val in %.0f s",
        len(manifest["shards"]),
        args.out,
        manifest["hours"]["train"],
        manifest["hours"]["val"],
        manifest["build_seconds"],
    )
    return 0
