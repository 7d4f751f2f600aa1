"""`piano-ai data build|maps|info`: render a training dataset (log-mel + target shards), or describe one."""

import argparse

HELP = "build training data: render MIDI with several pianos, augment, write log-mel + target shards"
BUILD_HELP = "render a dataset into a folder or gs://bucket/prefix (manifest.json is written last)"
MAPS_HELP = "cut MAPS recordings (scripts/fetch_maps.py) into augmented shards; ENSTDkCl is the val split"
INFO_HELP = "print a finished dataset's summary: hours, clips, notes and pieces by split, source, instrument"


def register(subparsers: argparse._SubParsersAction) -> None:
    from piano_ai.data.options import add_arguments, add_maps_arguments  # argparse only: cheap to import

    parser = subparsers.add_parser("data", help=HELP, description=HELP)
    actions = parser.add_subparsers(title="actions", metavar="ACTION", dest="data_action", required=True)
    build = actions.add_parser("build", help=BUILD_HELP, description=BUILD_HELP)
    add_arguments(build)
    maps = actions.add_parser("maps", help=MAPS_HELP, description=MAPS_HELP)
    add_maps_arguments(maps)
    info = actions.add_parser("info", help=INFO_HELP, description=INFO_HELP)
    info.add_argument("location", help="dataset folder or gs://bucket/prefix")


def run(args: argparse.Namespace) -> int:
    import json

    if args.data_action == "info":
        from piano_ai.data.reader import load_manifest

        manifest = load_manifest(args.location)
        keys = ("seed", "created", "build_seconds", "hours", "sources", "instruments", "augment", "summary")
        print(json.dumps({k: manifest.get(k) for k in keys}, indent=1))
        return 0

    if args.data_action == "maps":
        from piano_ai.data.maps_build import run as build_maps

        return build_maps(args)
    from piano_ai.data.build import build_and_report

    return build_and_report(args)
