"""Read a rendered dataset back from a local folder (READ_MODE local) or gs://bucket/prefix (READ_MODE gcs).

The same calls work on both: the location string decides (see shards.open_location).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import BinaryIO

from piano_ai.data.shards import MANIFEST, Shard, decode_shard, is_gcs, open_location

__all__ = ["iter_shards", "load_manifest", "open_shard", "read_mode", "read_shard"]


def read_mode(location: str) -> str:
    """ "gcs" for gs:// locations, "local" for folders."""
    return "gcs" if is_gcs(location) else "local"


def load_manifest(location: str) -> dict:
    """The dataset's manifest.json as a dict; raises ObjectNotFoundError if the build has not finished."""
    return dict(json.loads(open_location(location).get_bytes(MANIFEST)))


def open_shard(location: str, path: str) -> BinaryIO:
    """A seekable binary stream over one shard (give it to np.load)."""
    storage = open_location(location)
    local = storage.local_path(path)
    if local is not None:
        return open(local, "rb")
    return io.BytesIO(storage.get_bytes(path))


def read_shard(location: str, path: str) -> Shard:
    """One shard's arrays: mel (frames, 229) float16; onset, frame, offset, velocity (frames, 88) uint8."""
    with open_shard(location, path) as stream:
        return decode_shard(stream.read())


def iter_shards(location: str, split: str | None = None) -> Iterator[tuple[dict, Shard]]:
    """(manifest entry, arrays) for every shard of ``split`` ("train", "val" or None for all), in order."""
    for entry in load_manifest(location)["shards"]:
        if split is None or entry["split"] == split:
            yield entry, read_shard(location, entry["path"])
