"""Options of `piano-ai data build` (argparse only: cheap to import from the CLI)."""

import argparse
from pathlib import Path

ALL_SOURCES = ("asap", "music21", "synthetic")
ALL_INSTRUMENTS = ("fluidr3", "timgm6mb", "musescore", "salamander", "headroom")  # the default list
EXTRA_INSTRUMENTS = ("gmbank", "gmbank-acoustic", "mellow")  # opt-in: --instruments names them
VAL_ONLY_INSTRUMENTS = ("headroom",)  # never rendered for train: val measures an unseen piano


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The build's options (shared by ``python -m piano_ai.data.build`` and ``piano-ai data build``)."""
    parser.add_argument("--out", default="data/rendered/dev", help="local folder or gs://bucket/prefix")
    parser.add_argument("--force", action="store_true", help="overwrite a finished dataset at --out")
    parser.add_argument("--seed", type=int, default=0, help="the whole build is reproducible from it")
    parser.add_argument("--hours-train", type=float, default=1.5, help="approximate train audio, hours")
    parser.add_argument("--hours-val", type=float, default=10 / 60, help="approximate val audio, hours")
    parser.add_argument("--workers", type=int, default=1, help="render processes (CPU is shared: keep 1)")
    parser.add_argument("--sources", default=",".join(ALL_SOURCES), help=f"comma list of {ALL_SOURCES}")
    parser.add_argument(
        "--instruments",
        default=",".join(ALL_INSTRUMENTS),
        help=f"comma list of {ALL_INSTRUMENTS + EXTRA_INSTRUMENTS} (default: {ALL_INSTRUMENTS}); "
        f"{VAL_ONLY_INSTRUMENTS} are only used for val",
    )
    parser.add_argument("--augment", choices=("none", "light", "full"), default="full")


def add_maps_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `piano-ai data maps`."""
    parser.add_argument("--src", type=Path, default=Path("data/maps"), help="scripts/fetch_maps.py's output")
    parser.add_argument("--out", default="data/rendered/maps", help="local folder or gs://bucket/prefix")
    parser.add_argument("--copies", type=int, default=2, help="augmented passes over the training recordings")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1, help="processes (CPU is shared: keep 1)")
