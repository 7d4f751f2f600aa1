"""Losses for the four heads, written with keras.ops so they run on any backend."""

from collections.abc import Callable
from typing import Any

from piano_ai.training.config import TrainConfig

Loss = Callable[[Any, Any], Any]
EPSILON = 1e-6  # keeps log() finite at probabilities of exactly 0 or 1


def weighted_bce(pos_weight: float) -> Loss:
    """Binary cross-entropy where positive targets weigh ``pos_weight``: onsets are rare (~1% of frames)."""
    from keras import ops

    def loss(y_true: Any, y_pred: Any) -> Any:
        y_true = ops.cast(y_true, "float32")
        p = ops.clip(y_pred, EPSILON, 1.0 - EPSILON)
        per_cell = -(pos_weight * y_true * ops.log(p) + (1.0 - y_true) * ops.log(1.0 - p))
        return ops.mean(per_cell)

    loss.__name__ = f"weighted_bce_{pos_weight:g}"
    return loss


def masked_velocity_mse(y_true: Any, y_pred: Any) -> Any:
    """Squared error on velocity (0..1) only where a note starts; y_true is -1 elsewhere."""
    from keras import ops

    y_true = ops.cast(y_true, "float32")
    mask = ops.cast(ops.greater_equal(y_true, 0.0), "float32")
    error = ops.square(y_pred - y_true) * mask
    return ops.sum(error) / (ops.sum(mask) + 1.0)


def masked_bce(y_true: Any, y_pred: Any) -> Any:
    """Binary cross-entropy over the cells whose target is 0 or 1; targets of -1 (unlabelled) are skipped."""
    from keras import ops

    y_true = ops.cast(y_true, "float32")
    mask = ops.cast(ops.greater_equal(y_true, 0.0), "float32")
    p = ops.clip(y_pred, EPSILON, 1.0 - EPSILON)
    per_cell = -(y_true * ops.log(p) + (1.0 - y_true) * ops.log(1.0 - p)) * mask
    return ops.sum(per_cell) / (ops.sum(mask) + 1.0)


def head_losses(cfg: TrainConfig, heads: tuple[str, ...] = ("onset", "frame", "offset", "velocity")):
    """The loss of each of the model's ``heads`` and its weight in the total, as `piano-ai train` compiles."""
    losses = {
        "onset": weighted_bce(cfg.onset_pos_weight),
        "frame": weighted_bce(1.0),
        "offset": weighted_bce(cfg.offset_pos_weight),
        "velocity": masked_velocity_mse,
        "pedal": masked_bce,
    }
    weights = {"onset": 1.0, "frame": 1.0, "offset": 0.5, "velocity": cfg.velocity_loss_weight,
               "pedal": cfg.pedal_loss_weight}  # fmt: skip
    return {h: losses[h] for h in heads}, {h: weights[h] for h in heads}
