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


def head_losses(cfg: TrainConfig) -> tuple[dict[str, Loss], dict[str, float]]:
    """The loss of each head and its weight in the total, as `piano-ai train` compiles the model."""
    losses = {
        "onset": weighted_bce(cfg.onset_pos_weight),
        "frame": weighted_bce(1.0),
        "offset": weighted_bce(cfg.offset_pos_weight),
        "velocity": masked_velocity_mse,
    }
    return losses, {"onset": 1.0, "frame": 1.0, "offset": 0.5, "velocity": cfg.velocity_loss_weight}
