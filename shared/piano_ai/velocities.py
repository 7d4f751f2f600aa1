"""How hard each note was struck: a small network reads the velocity head and the sound around the onset.

The velocity head alone tracks a real piano's velocities loosely (on ENSTDkCl its values correlate 0.67 with
the truth). Where the recording's levels are at hand (piano_ai.levels), how loud the key's fundamental and its
partials (the keys 12 and 19 above) get over the onset, against the loudest and the mean key, tells more. So
each note is described by FEATURES, read from CONTEXT_BEFORE frames before its onset frame to CONTEXT_AFTER
after (inside what the onset's own verdict reads, so streamed notes still equal the whole recording's), and a
regression MLP (mlp.Mlp, linear output, fitted by piano_ai.training.velocity_net) gives velocity / 127.
Without levels, or without a network, notes.onset_velocities reads the head as before.
"""

from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from piano_ai.mlp import Mlp
from piano_ai.onsets import LOOKAHEAD, ONSET_CONTEXT, read
from piano_ai.types import FloatArray

IntArray = npt.NDArray[np.int64]

CONTEXT_BEFORE = 2  # frames before the onset frame that the features read
CONTEXT_AFTER = 3  # frames after it
LEVEL_FRAMES = tuple(range(-CONTEXT_BEFORE, CONTEXT_AFTER + 1))
PARTIALS = ((12, (-1, 0, 1, 2)), (19, (-1, 1)))  # the keys of the 2nd and 3rd partials, and the frames read
FEATURES = (
    ["velocity[t]", "velocity[t+1]", "onset[t]", "frame[t+1]"]
    + [f"level[t{d:+d}]" for d in LEVEL_FRAMES]
    + [f"level[t{d:+d}, key{dk:+d}]" for dk, frames in PARTIALS for d in frames]
    + ["loudest key's level[t+1]", "mean level[t+1]", "mean level[t-1]"]
    + ["keys with onset >= 0.5 at t", "key / 88"]
)
NET_FILE = Path(__file__).parent / "weights" / "default" / "velocities.npz"
assert CONTEXT_BEFORE <= ONSET_CONTEXT and CONTEXT_AFTER <= LOOKAHEAD


@lru_cache(maxsize=1)
def shipped_net() -> Mlp:
    """The network fitted for the shipped model's outputs (weights/default/velocities.npz)."""
    return Mlp.load(NET_FILE, len(FEATURES))


def note_velocities(
    onset: FloatArray,
    frame: FloatArray,
    velocity: FloatArray,
    level: FloatArray,
    times: IntArray,
    keys: IntArray,
    net: Mlp,
) -> IntArray:
    """MIDI velocities (notes,) 1..127 of the notes with onset frames ``times`` at ``keys``."""
    if times.size == 0:
        return np.zeros(0, np.int64)
    values = net.output(velocity_features(onset, frame, velocity, level, times, keys))
    return np.clip(np.rint(127.0 * values), 1, 127).astype(np.int64)


def velocity_features(
    onset: FloatArray,
    frame: FloatArray,
    velocity: FloatArray,
    level: FloatArray,
    times: IntArray,
    keys: IntArray,
) -> npt.NDArray[np.float32]:
    """(notes, len(FEATURES)) float32: FEATURES of the notes at (times, keys); outside the recording 0."""
    frames = onset.shape[0]

    def at(head: FloatArray, dt: int = 0, dk: int = 0) -> FloatArray:
        return read(head, times, keys, dt, dk)

    def per_frame(values: np.ndarray, dt: int) -> np.ndarray:
        t = times + dt
        return np.where((t >= 0) & (t < frames), values[np.clip(t, 0, max(frames - 1, 0))], 0.0)

    columns: list[np.ndarray] = [at(velocity), at(velocity, 1), at(onset), at(frame, 1)]
    columns += [at(level, d) for d in LEVEL_FRAMES]
    columns += [at(level, d, dk) for dk, reads in PARTIALS for d in reads]
    mean = level.mean(axis=1) if level.shape[1] else np.zeros(frames)
    columns += [per_frame(level.max(axis=1, initial=0.0), 1), per_frame(mean, 1), per_frame(mean, -1)]
    columns += [(onset >= 0.5).sum(axis=1)[times], keys / 88.0]
    return np.stack([np.asarray(c, np.float32) for c in columns], axis=1).reshape(times.size, len(FEATURES))
