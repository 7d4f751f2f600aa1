"""Refit every decoding network for a model directory, in the order they depend on each other.

    python -m piano_ai.training.refit --model DIR [--cache DIR] [--maps data/maps] [--seed 0]

The onset networks (onsets.npz, onsets_level.npz) first (they also read the v15 and v24 renders' training
clips, training.onset_net.DEFAULT_RENDERS): the end and velocity networks are fitted on the notes they find.
Then the end network (ends.npz), the sustain network (sustain.npz; it also reads the v15 render's training
clips, training.sustain_net.DEFAULT_RENDERS) and the velocity network (velocities.npz), each written into the
model directory, where convert, evaluate and the worker pick them up (piano_ai.note_nets.nets_for).
Run it whenever a model's weights change; with --cache the model runs once per recording.
"""

import argparse
from pathlib import Path

from piano_ai.note_nets import nets_for
from piano_ai.training import end_net, onset_net, sustain_net, velocity_net

STEPS = (
    (onset_net, "onsets.npz"),
    (end_net, "ends.npz"),
    (sustain_net, "sustain.npz"),
    (velocity_net, "velocities.npz"),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--model", required=True, type=Path, help="the model directory (its networks go there)"
    )
    parser.add_argument("--cache", type=Path, help="keep the model's outputs here (npz per recording)")
    parser.add_argument("--maps", type=Path, default=Path("data/maps"), help="scripts/fetch_maps.py's folder")
    parser.add_argument(
        "--seed", type=int, default=0, help="the onset, end and velocity fits' seed (sustain_net has its own)"
    )
    args = parser.parse_args(argv)
    shared = ["--model", str(args.model), "--maps", str(args.maps)]
    shared += ["--cache", str(args.cache)] if args.cache else []
    for module, name in STEPS:
        nets_for.cache_clear()  # each step reads the networks the steps before it wrote
        seeded = [] if module is sustain_net else ["--seed", str(args.seed)]
        code = module.main([*shared, *seeded, "--out", str(args.model / name)])
        if code:
            return code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
