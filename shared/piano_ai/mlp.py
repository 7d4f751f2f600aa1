"""A small fitted network kept as numpy arrays: standardised features -> ReLU layers -> one output unit.

piano_ai.onsets and piano_ai.ends judge their candidates with one each (a logistic output: a probability);
piano_ai.velocities predicts with one (a linear output). piano_ai.training fits them with scikit-learn and
writes them here, so decoding needs no scikit-learn.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import numpy.typing as npt

from piano_ai.types import FloatArray

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mlp:
    """Standardised features -> ReLU layers -> one logistic unit: a probability per row."""

    mean: npt.NDArray[np.float64]
    scale: npt.NDArray[np.float64]
    weights: tuple[npt.NDArray[np.float64], ...]
    biases: tuple[npt.NDArray[np.float64], ...]

    @classmethod
    def load(cls, path: Path, features: int) -> "Mlp":
        """The network in ``path`` (npz: mean, scale, w0.., b0..), which must read ``features`` numbers."""
        with np.load(path) as data:
            layers = sum(1 for name in data.files if name.startswith("w"))
            net = cls(
                data["mean"],
                data["scale"],
                tuple(data[f"w{i}"] for i in range(layers)),
                tuple(data[f"b{i}"] for i in range(layers)),
            )
        if net.mean.shape != (features,):
            raise ValueError(f"{path}: a net for {net.mean.shape[0]} features, these are {features}")
        return net

    def save(self, path: Path) -> None:
        arrays: dict[str, np.ndarray] = {"mean": self.mean, "scale": self.scale}
        arrays.update({f"w{i}": w for i, w in enumerate(self.weights)})
        arrays.update({f"b{i}": b for i, b in enumerate(self.biases)})
        np.savez(path, **arrays)  # type: ignore[arg-type]  # numpy's stub types the keywords as allow_pickle

    def probability(self, features: FloatArray) -> npt.NDArray[np.float64]:
        """(rows,) probabilities for (rows, features) features; in float64, which tells apart logits that
        float32 would round to the same 1.0 (above about 17), so the likeliest of several stays so."""
        return 1.0 / (1.0 + np.exp(-self.output(features).astype(np.float64)))

    def output(self, features: FloatArray) -> FloatArray:
        """(rows,) the last unit before any squashing: a logit, or a regressor's value (fit_regressor).

        Computed in float32 with the parameters rounded once: half the time of float64 (the ends network's
        45,000 candidates of the bench's 11.8 minutes: 13 against 30 ms), logits within about 1e-4."""
        mean, scale, layers = self._float32
        x = (np.asarray(features, np.float32) - mean) / scale
        for w, b in layers[:-1]:
            x = np.maximum(x @ w + b, np.float32(0.0))
        w, b = layers[-1]
        return (x @ w + b)[:, 0].astype(np.float32, copy=False)

    @cached_property
    def _float32(self) -> tuple[FloatArray, FloatArray, tuple[tuple[FloatArray, FloatArray], ...]]:
        """The mean, the scale and each layer's (weights, biases), rounded to float32 once."""
        as32 = np.float32
        layers = tuple(
            (np.asarray(w, as32), np.asarray(b, as32)) for w, b in zip(self.weights, self.biases, strict=True)
        )
        return np.asarray(self.mean, as32), np.asarray(self.scale, as32), layers


def averaged(nets: Sequence[Mlp]) -> Mlp:
    """One network whose logit is the mean of ``nets``' logits: their hidden layers side by side (each layer
    after the first block-diagonal), so they run as one. The nets must share the standardisation and depth."""
    first = nets[0]
    for net in nets:
        same = np.array_equal(net.mean, first.mean) and np.array_equal(net.scale, first.scale)
        if not same or len(net.weights) != len(first.weights):
            raise ValueError("averaged nets must share their standardisation and their number of layers")
    if len(first.weights) == 1:
        return Mlp(
            first.mean,
            first.scale,
            (np.mean(_each(nets, 0, "weights"), axis=0),),
            (np.mean(_each(nets, 0, "biases"), axis=0),),
        )
    weights = [np.concatenate(_each(nets, 0, "weights"), axis=1)]
    weights += [_block_diagonal(_each(nets, i, "weights")) for i in range(1, len(first.weights) - 1)]
    weights.append(np.concatenate(_each(nets, -1, "weights"), axis=0) / len(nets))
    biases = [np.concatenate(_each(nets, i, "biases")) for i in range(len(first.biases) - 1)]
    biases.append(np.mean(_each(nets, -1, "biases"), axis=0))
    return Mlp(first.mean, first.scale, tuple(weights), tuple(biases))


def _block_diagonal(blocks: list[npt.NDArray[np.float64]]) -> npt.NDArray[np.float64]:
    out = np.zeros((sum(b.shape[0] for b in blocks), sum(b.shape[1] for b in blocks)))
    row = column = 0
    for block in blocks:
        out[row : row + block.shape[0], column : column + block.shape[1]] = block
        row, column = row + block.shape[0], column + block.shape[1]
    return out


def _each(nets: Sequence[Mlp], layer: int, part: str) -> list[npt.NDArray[np.float64]]:
    return [getattr(net, part)[layer] for net in nets]


def fit_mlp(x: npt.NDArray[np.float32], y: np.ndarray, hidden: tuple[int, ...], seed: int = 0) -> Mlp:
    """An MLP (``hidden`` ReLU layers) fitted by scikit-learn on standardised features (early stopping on a
    tenth held back), as an Mlp."""
    from sklearn.neural_network import MLPClassifier

    mean, scale = x.mean(axis=0).astype(np.float64), x.std(axis=0).astype(np.float64)
    scale[scale == 0] = 1.0
    mlp = MLPClassifier(hidden, max_iter=200, early_stopping=True, random_state=seed)
    mlp.fit((x - mean) / scale, y)
    log.info("MLP: %d iterations, validation accuracy %.4f", mlp.n_iter_, mlp.best_validation_score_)
    return Mlp(mean, scale, tuple(mlp.coefs_), tuple(b.astype(np.float64) for b in mlp.intercepts_))


def fit_regressor(x: npt.NDArray[np.float32], y: np.ndarray, hidden: tuple[int, ...], seed: int = 0) -> Mlp:
    """An MLP (``hidden`` ReLU layers, a linear output read by Mlp.output) fitted by scikit-learn to predict
    ``y`` from standardised features (squared error, early stopping on a tenth held back), as an Mlp."""
    from sklearn.neural_network import MLPRegressor

    mean, scale = x.mean(axis=0).astype(np.float64), x.std(axis=0).astype(np.float64)
    scale[scale == 0] = 1.0
    mlp = MLPRegressor(hidden_layer_sizes=hidden, max_iter=200, early_stopping=True, random_state=seed)
    mlp.fit((x - mean) / scale, y)
    log.info("MLP regressor: %d iterations, validation R^2 %.4f", mlp.n_iter_, mlp.best_validation_score_)
    return Mlp(mean, scale, tuple(mlp.coefs_), tuple(b.astype(np.float64) for b in mlp.intercepts_))
