"""A small fitted network kept as numpy arrays: standardised features -> ReLU layers -> one logistic unit.

piano_ai.onsets and piano_ai.ends judge their candidates with one each; piano_ai.training fits them with
scikit-learn and writes them here, so decoding needs no scikit-learn.
"""

import logging
from dataclasses import dataclass
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
        """(rows,) probabilities for (rows, features) features."""
        x = (features.astype(np.float64) - self.mean) / self.scale
        for w, b in zip(self.weights[:-1], self.biases[:-1], strict=True):
            x = np.maximum(x @ w + b, 0.0)
        logit = (x @ self.weights[-1] + self.biases[-1])[:, 0]
        return 1.0 / (1.0 + np.exp(-logit))


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
