"""A sustain network for tests: it reads the pedal head alone, so its presses are known exactly."""

import numpy as np

from piano_ai.mlp import Mlp
from piano_ai.sustain import FEATURES


def head_reader(scale: float = 20.0) -> Mlp:
    """A one-layer network whose probability is sigmoid(scale * (pedal head at t - 0.5))."""
    weights = np.zeros((len(FEATURES), 1))
    weights[FEATURES.index("pedal[t+0]"), 0] = scale
    return Mlp(np.zeros(len(FEATURES)), np.ones(len(FEATURES)), (weights,), (np.full(1, -scale / 2),))
