"""Several fitted networks run as one: the averaged network's logit is the mean of theirs."""

import numpy as np
import pytest

from piano_ai.mlp import Mlp, averaged


def random_net(rng: np.random.Generator, sizes: tuple[int, ...], mean: np.ndarray, scale: np.ndarray) -> Mlp:
    shapes = list(zip(sizes, sizes[1:], strict=False))
    return Mlp(
        mean,
        scale,
        tuple(rng.normal(size=shape) for shape in shapes),
        tuple(rng.normal(size=shape[1]) for shape in shapes),
    )


def logit(p: np.ndarray) -> np.ndarray:
    return np.log(p / (1 - p))


@pytest.mark.parametrize("sizes", [(5, 1), (5, 4, 1), (5, 6, 3, 1), (5, 3, 2, 2, 1)])
def test_the_averaged_logit_is_the_mean_of_the_logits(sizes: tuple[int, ...]) -> None:
    rng = np.random.default_rng(len(sizes))
    mean, scale = rng.normal(size=5), rng.uniform(0.5, 2, size=5)
    nets = [random_net(rng, sizes, mean, scale) for _ in range(3)]
    x = rng.normal(size=(200, 5)).astype(np.float32)
    expected = np.mean([logit(net.probability(x)) for net in nets], axis=0)
    # Up to float32's rounding: the nets run in float32 (Mlp.output).
    np.testing.assert_allclose(logit(averaged(nets).probability(x)), expected, rtol=1e-5, atol=1e-5)
    assert averaged(nets[:1]).probability(x) == pytest.approx(nets[0].probability(x))


def test_nets_read_differently_are_not_averaged() -> None:
    rng = np.random.default_rng(0)
    one = random_net(rng, (5, 4, 1), np.zeros(5), np.ones(5))
    with pytest.raises(ValueError, match="standardisation"):
        averaged([one, random_net(rng, (5, 4, 1), np.ones(5), np.ones(5))])
    with pytest.raises(ValueError, match="number of layers"):
        averaged([one, random_net(rng, (5, 4, 3, 1), np.zeros(5), np.ones(5))])
