"""Shard encoding and dataset locations."""

import numpy as np
import pytest

from piano_ai.constants import N_KEYS, N_MELS
from piano_ai.data.shards import decode_shard, encode_shard, is_gcs, open_location


def shard(frames: int = 5) -> dict:
    targets = {k: np.zeros((frames, N_KEYS), np.uint8) for k in ("onset", "frame", "offset", "velocity")}
    return {"mel": np.ones((frames, N_MELS), np.float16), **targets}


def test_round_trip():
    out = decode_shard(encode_shard(shard()))
    assert set(out) == {"mel", "onset", "frame", "offset", "velocity"}
    assert all(np.array_equal(out[k], v) and out[k].dtype == v.dtype for k, v in shard().items())


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("mel", np.ones((5, N_MELS), np.float32)),
        ("mel", np.ones((5, 128), np.float16)),
        ("onset", np.zeros((4, N_KEYS), np.uint8)),
        ("velocity", np.zeros((5, N_KEYS), np.float32)),
    ],
)
def test_wrong_shape_or_dtype_is_refused(name, bad):
    with pytest.raises(ValueError, match=name):
        encode_shard({**shard(), name: bad})


def test_locations(tmp_path):
    assert is_gcs("gs://bucket/prefix") and not is_gcs(str(tmp_path))
    storage = open_location(str(tmp_path / "ds"))
    storage.put_bytes("train/000000.npz", b"x")
    assert (tmp_path / "ds" / "train" / "000000.npz").read_bytes() == b"x"
