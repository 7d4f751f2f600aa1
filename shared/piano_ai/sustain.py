"""Where the sustain pedal is down: a small network reads the pedal head beside what all keys do. Pure numpy.

The model's pedal head, cut at one threshold, misses most presses on a real piano: held that way, the notes it
lengthens gained next to nothing on MAPS's Disklavier. Yet a press and a lift show in the notes too: a lift
ends every sounding note at once (the offset head fires on many keys, the frame head's total falls), and a
press lets notes ring on past their release. So every frame is described by FEATURES, read from the pedal head
and from per-frame sums of the other heads over the keys (SUMS, kept while a recording streams), up to WIDE
frames either side; three two-layer networks run as one (an mlp.Mlp averaging their logits, trained by
piano_ai.training.sustain_net on MAPS's sampled pianos and a render of real pedalling, from the shipped
model's own outputs) give the probability that the pedal is down, and piano_ai.pedal.sustain_intervals cuts
it at THRESHOLD.
"""

from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from piano_ai.mlp import Mlp
from piano_ai.types import Activations, FloatArray

THRESHOLD = 0.6  # the network's probability for "down"
SOUNDING = 0.5  # a key whose frame head reaches this counts as sounding
WIDE = 96  # frames (3 s) either side that the widest feature reads
ROWS = 8192  # frames judged at once (the three networks' hidden layers: 13 MB)
SUMS = (
    "pedal",
    "onset summed over keys",
    "frame summed over keys",
    "offset summed over keys",
    "keys sounding",
)
FEATURES = (
    [f"pedal[t{d:+d}]" for d in (-8, -4, -2, -1, 0, 1, 2, 4, 8)]
    + ["pedal mean t-32..t-1", "pedal mean t..t+31", f"pedal mean t-{WIDE}..t+{WIDE - 1}"]
    + [f"offset sum[t{d:+d}]" for d in (-1, 0, 1, 2)]
    + [f"frame sum[t{d:+d}]" for d in (-2, 0, 2, 4)]
    + ["onset sum mean t-1..t+1", "keys sounding[t]", "frame sum mean t-32..t-1", "offset sum mean t-8..t+7"]
)
NET_FILE = Path(__file__).parent / "weights" / "default" / "sustain.npz"


@lru_cache(maxsize=1)
def shipped_net() -> Mlp:
    """The network trained for the shipped model's outputs (weights/default/sustain.npz)."""
    return Mlp.load(NET_FILE, len(FEATURES))


def frame_sums(
    onset: FloatArray, frame: FloatArray, offset: FloatArray, pedal: FloatArray
) -> npt.NDArray[np.float32]:
    """(frames, len(SUMS)) float32: what the features read of each frame; rows depend on their own frame
    alone, so sums of blocks stacked equal the sums of the whole."""
    columns = (
        np.reshape(pedal, -1),
        onset.sum(axis=1),
        frame.sum(axis=1),
        offset.sum(axis=1),
        (frame >= SOUNDING).sum(axis=1),
    )
    return np.stack([np.asarray(c, np.float32) for c in columns], axis=1)


def sums_of(act: Activations) -> npt.NDArray[np.float32] | None:
    """frame_sums of a whole recording's outputs; None for a model without a pedal head."""
    if act.pedal is None:
        return None
    return frame_sums(act.onset, act.frame, act.offset, act.pedal)


def features(sums: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """(frames, len(FEATURES)) float32 from frame_sums; outside the recording every sum reads 0."""
    pedal, onset, frame, offset, sounding = (sums[:, i].astype(np.float64) for i in range(len(SUMS)))
    columns = [_shifted(pedal, d) for d in (-8, -4, -2, -1, 0, 1, 2, 4, 8)]
    columns += [_mean(pedal, -32, 0), _mean(pedal, 0, 32), _mean(pedal, -WIDE, WIDE)]
    columns += [_shifted(offset, d) for d in (-1, 0, 1, 2)]
    columns += [_shifted(frame, d) for d in (-2, 0, 2, 4)]
    columns += [_mean(onset, -1, 2), sounding, _mean(frame, -32, 0), _mean(offset, -8, 8)]
    return np.stack(columns, axis=1).astype(np.float32).reshape(sums.shape[0], len(FEATURES))


def probability(sums: npt.NDArray[np.float32], net: Mlp | None = None) -> npt.NDArray[np.float64]:
    """(frames,) the probability that the pedal is down, by ``net`` (default: the shipped one), ROWS frames
    at a time (each read with WIDE frames either side), so memory does not grow with the recording."""
    net = net or shipped_net()
    frames = sums.shape[0]
    out = np.zeros(frames)
    for start in range(0, frames, ROWS):
        first = max(start - WIDE, 0)
        rows = features(sums[first : min(start + ROWS + WIDE, frames)])[start - first :][:ROWS]
        out[start : start + rows.shape[0]] = net.probability(rows)
    return out


def _shifted(values: npt.NDArray[np.float64], d: int) -> npt.NDArray[np.float64]:
    """values[t + d] at every t, 0 outside."""
    out = np.zeros_like(values)
    if d >= 0:
        out[: values.size - d] = values[d:]
    else:
        out[-d:] = values[: values.size + d]
    return out


def _mean(values: npt.NDArray[np.float64], lo: int, hi: int) -> npt.NDArray[np.float64]:
    """The mean of values[t + lo .. t + hi - 1] at every t, 0 outside (always divided by hi - lo)."""
    total = np.concatenate([[0.0], np.cumsum(values)])
    t = np.arange(values.size)
    return (total[np.clip(t + hi, 0, values.size)] - total[np.clip(t + lo, 0, values.size)]) / (hi - lo)
