"""Training throughput on this machine: seconds per optimiser step of the model `piano-ai train` builds.

  .venv/bin/python scripts/bench/train_speed.py [--model DIR] [--steps N] [--batch-size N] [--window-frames F]

Builds the model of --model's config.json (default: the shipped one), compiles it as piano-ai train does,
and times --steps steps on random batches after one warm-up step. Prints seconds per step, what one epoch of
`piano-ai train`'s default 250 steps costs, and how many hours of audio a wall-clock hour trains on. Run it on
an idle machine: another process on the cores slows it down in proportion.
"""

import argparse
import os
import time
from pathlib import Path

import numpy as np

from piano_ai.constants import SECONDS_PER_FRAME
from piano_ai.model import ModelConfig, build_model
from piano_ai.training.config import TrainConfig
from piano_ai.training.losses import head_losses


def step_seconds(
    config: ModelConfig, batch_size: int, window_frames: int, steps: int, seed: int = 0
) -> float:
    """Mean wall seconds of one training step on random (batch_size, window_frames) batches."""
    if batch_size < 1 or window_frames < 1 or steps < 1:
        raise ValueError(
            f"batch_size, window_frames and steps must be >= 1, got {batch_size, window_frames, steps}"
        )
    import keras

    model = build_model(config)
    losses, weights = head_losses(TrainConfig())
    model.compile(optimizer=keras.optimizers.Adam(1e-4, clipnorm=3.0), loss=losses, loss_weights=weights)
    rng = np.random.default_rng(seed)
    mel = rng.normal(size=(batch_size, window_frames, config.n_mels)).astype(np.float32)
    shape = (batch_size, window_frames, config.n_keys)
    targets = {name: (rng.random(shape) > 0.99).astype(np.float32) for name in ("onset", "frame", "offset")}
    targets["velocity"] = np.where(targets["onset"] > 0, 0.5, -1.0).astype(np.float32)
    model.train_on_batch(mel, targets)  # warm-up: tracing and first allocations
    began = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(mel, targets)
    return (time.perf_counter() - began) / steps


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from piano_ai.inference import DEFAULT_MODEL_DIR

    defaults = TrainConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR, help="a directory with config.json")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--window-frames", type=int, default=defaults.window_frames)
    args = parser.parse_args(argv)
    config = ModelConfig.load(args.model / "config.json")
    seconds = step_seconds(config, args.batch_size, args.window_frames, args.steps)
    audio_s = args.batch_size * args.window_frames * SECONDS_PER_FRAME
    load = os.getloadavg()[0]
    epoch_min = seconds * defaults.steps_per_epoch / 60
    print(f"model {args.model} (head_lstm_units {config.head_lstm_units}), batch {args.batch_size} x")
    print(f"  {args.window_frames} frames, {os.cpu_count()} cores, load average {load:.2f} at the end")
    print(f"{seconds:.2f} s per step; {epoch_min:.1f} min per epoch of {defaults.steps_per_epoch} steps;")
    print(f"  {audio_s / seconds:.0f} s of audio trained per wall second")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
