"""Average several epochs' weights of one training run and export the result as a servable model.

    python -m piano_ai.training.average --run-dir runs/X --epochs 2,3,4,5 --out DIR

A run keeps every epoch's weights (training.fit.EPOCHS_DIR). Epochs fine-tuned from one starting point lie
in one basin, and their mean often generalises better than any one of them (stochastic weight averaging).
Floating point weights, batch-norm statistics included, are averaged; any other variable is the last
epoch's.
"""

import argparse
from pathlib import Path

import numpy as np

from piano_ai.model import ModelConfig, build_model
from piano_ai.training.fit import EPOCHS_DIR, epoch_weights_name, export


def averaged_weights(run_dir: Path, epochs: list[int], out: Path) -> Path:
    """Write the mean of ``epochs``' weights of ``run_dir`` to ``out`` (a .weights.h5 file)."""
    if not epochs:
        raise ValueError("no epochs to average")
    config = ModelConfig.load(run_dir / "config.json")
    model = build_model(config)
    model(np.zeros((1, 64, config.n_mels), np.float32))
    total: list[np.ndarray] = []
    for epoch in epochs:
        path = run_dir / EPOCHS_DIR / epoch_weights_name(epoch)
        if not path.exists():
            raise FileNotFoundError(f"{path}: epoch {epoch} has no saved weights")
        model.load_weights(path)
        weights = model.get_weights()
        total = weights if not total else [_add(a, b) for a, b in zip(total, weights, strict=True)]
    model.set_weights([_mean(w, len(epochs)) for w in total])
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save_weights(out)
    return out


def _add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a + b.astype(np.float64) if np.issubdtype(a.dtype, np.floating) else b


def _mean(total: np.ndarray, count: int) -> np.ndarray:
    if not np.issubdtype(total.dtype, np.floating):
        return total
    return (total.astype(np.float64) / count).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--run-dir", required=True, help="a `piano-ai train` run directory")
    parser.add_argument("--epochs", required=True, help="comma-separated epoch numbers, as in its log.csv")
    parser.add_argument("--out", required=True, help="the servable model directory to write")
    args = parser.parse_args(argv)
    run_dir, out = Path(args.run_dir), Path(args.out)
    epochs = [int(e) for e in args.epochs.split(",")]
    weights = averaged_weights(run_dir, epochs, out / "averaged.weights.h5")
    export(run_dir, out, weights)
    weights.unlink()
    print(f"epochs {epochs} of {run_dir} averaged into {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
