"""`piano-ai train`: train or resume a model and export it as a servable model directory."""

import argparse
from dataclasses import fields, replace

from piano_ai.training.config import TrainConfig

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
        "--export-to", help="after training, write the servable model here (e.g. a weights dir)"
    )


def run(args: argparse.Namespace) -> int:
    import logging
    from pathlib import Path

    from piano_ai.model import ModelConfig
    from piano_ai.training.fit import export, train

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})
    run_dir = Path(cfg.run_dir)
    model_config = (
        ModelConfig.load(run_dir / "config.json") if (run_dir / "config.json").exists() else ModelConfig()
    )
    if args.head_lstm_units is not None:
        model_config = replace(model_config, head_lstm_units=args.head_lstm_units)
    init = Path(args.init_weights) if args.init_weights else None
    train(cfg, model_config, init)
    if args.export_to:
        export(run_dir, Path(args.export_to))
    return 0
