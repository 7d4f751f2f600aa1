"""`piano-ai train`: train or resume a model and export it as a servable model directory."""

from __future__ import annotations

import argparse
from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

from piano_ai.training.config import TrainConfig

if TYPE_CHECKING:
    from piano_ai.model import ModelConfig

HELP = "train (or resume) the transcription model on a dataset built by `piano-ai data build`"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help=HELP, description=HELP)
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        parser.add_argument(flag, type=type(f.default), default=f.default, help=f"(default: {f.default})")
    parser.add_argument("--init-weights", help="start from these weights (fine-tuning), not from scratch")
    parser.add_argument(
        "--head-lstm-units",
        type=int,
        help="a new run's second BiLSTM for the frame/offset/velocity heads, per direction (default: none)",
    )
    parser.add_argument(
        "--pedal-head",
        action="store_true",
        help="give the model a sustain-pedal head (trained from the shards' CC64; warm starts keep the rest)",
    )
    parser.add_argument(
        "--pedal-lstm-units",
        type=int,
        help="per direction of the pedal head's BiLSTM (a new size starts that head afresh; default: 32)",
    )
    parser.add_argument(
        "--export-to", help="after training, write the servable model here (e.g. a weights dir)"
    )


def run(args: argparse.Namespace) -> int:
    import logging

    from piano_ai.training.fit import export, train

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})
    run_dir = Path(cfg.run_dir)
    init = Path(args.init_weights) if args.init_weights else None
    model_config = run_model_config(run_dir, init)
    if args.head_lstm_units is not None:
        model_config = replace(model_config, head_lstm_units=args.head_lstm_units)
    if args.pedal_head:
        model_config = replace(model_config, pedal_head=True)
    if args.pedal_lstm_units is not None:
        model_config = replace(model_config, pedal_lstm_units=args.pedal_lstm_units)
    train(cfg, model_config, init)
    if args.export_to:
        export(run_dir, Path(args.export_to))
    return 0


def run_model_config(run_dir: Path, init_weights: Path | None) -> ModelConfig:
    """The architecture of a run: its own config.json when resuming, else that of the weights it starts
    from (a model directory's, or the run's for one of its epochs), else the defaults."""
    from piano_ai.model import ModelConfig
    from piano_ai.training.fit import config_of

    for candidate in (run_dir / "config.json", config_of(init_weights) if init_weights else None):
        if candidate is not None and candidate.exists():
            return ModelConfig.load(candidate)
    return ModelConfig()
