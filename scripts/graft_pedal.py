"""Graft a pedal branch onto a model, its notes left alone: `python scripts/graft_pedal.py NOTES PEDAL OUT`.

NOTES and PEDAL are model directories (config.json + model.weights.h5). PEDAL must have been trained with
`--freeze backbone` from NOTES, so its pedal branch reads exactly NOTES' features. OUT gets NOTES'
architecture with a pedal head: every layer from NOTES, `pedal_bilstm` and `pedal` from PEDAL, exported as a
servable directory (with NOTES' train_config.json). How the shipped model was made
(docs/training-runs/README.md, stage 11).
"""

import argparse
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from piano_ai.model import ModelConfig, build_model
from piano_ai.training.fit import export, warm_start

PEDAL_LAYERS = ("pedal_bilstm", "pedal")


def graft(notes: Path, pedal: Path, out: Path) -> Path:
    config = replace(ModelConfig.load(notes / "config.json"), pedal_head=True)
    model = build_model(config)
    warm_start(model, notes / "model.weights.h5")
    donor = build_model(ModelConfig.load(pedal / "config.json"))
    donor.load_weights(pedal / "model.weights.h5")
    for name in PEDAL_LAYERS:
        model.get_layer(name).set_weights(donor.get_layer(name).get_weights())
    with tempfile.TemporaryDirectory(prefix="piano-ai-graft-") as folder:
        run = Path(folder)
        config.save(run / "config.json")
        shutil.copy(notes / "train_config.json", run / "train_config.json")
        model.save_weights(run / "grafted.weights.h5")
        return export(run, out, run / "grafted.weights.h5")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notes", type=Path, help="model directory whose every note head is kept")
    parser.add_argument("pedal", type=Path, help="model directory trained from it with --freeze backbone")
    parser.add_argument("out", type=Path, help="where the grafted model directory is written")
    args = parser.parse_args(argv)
    print(graft(args.notes, args.pedal, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
