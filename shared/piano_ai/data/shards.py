"""Shard files (.npz) and where they live: a local folder or gs://bucket/prefix, via piano_ai.storage."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from piano_ai.constants import N_KEYS, N_MELS

if TYPE_CHECKING:
    from piano_ai.storage.base import Storage

MANIFEST = "manifest.json"
# mel (frames, N_MELS) float16; onset/frame/offset/velocity (frames, 88) uint8; pedal (frames,) uint8 0/1
# (sustain down; absent in shards built before the pedal head: training masks it there); key_frame/key_offset
# (frames, 88) uint8: frame and offset with notes ending at key release (absent in older shards)
Shard = dict[str, npt.NDArray]


def is_gcs(location: str) -> bool:
    """Whether ``location`` is a gs://bucket/prefix URL (READ_MODE gcs) rather than a local folder."""
    return str(location).startswith("gs://")


def open_location(location: str) -> Storage:
    """The storage backend holding a dataset: LocalStorage(folder) or GCSStorage(bucket, prefix/).

    For gs:// the emulator host (STORAGE_EMULATOR_HOST) comes from piano_ai.settings.
    """
    if is_gcs(location):
        from piano_ai.settings import get_settings
        from piano_ai.storage.gcs import GCSStorage

        bucket, _, prefix = str(location)[len("gs://") :].partition("/")
        prefix = prefix.strip("/")
        return GCSStorage(
            bucket, prefix + "/" if prefix else "", emulator_host=get_settings().storage_emulator_host
        )
    from piano_ai.storage.local import LocalStorage

    return LocalStorage(location)


def encode_shard(shard: Shard) -> bytes:
    """Serialise one clip with np.savez_compressed, checking shapes and dtypes first."""
    mel = shard["mel"]
    frames = mel.shape[0]
    if mel.shape != (frames, N_MELS) or mel.dtype != np.float16:
        raise ValueError(f"mel must be (frames, {N_MELS}) float16, got {mel.shape} {mel.dtype}")
    optional = [name for name in ("key_frame", "key_offset") if name in shard]
    for name in ("onset", "frame", "offset", "velocity", *optional):
        if shard[name].shape != (frames, N_KEYS) or shard[name].dtype != np.uint8:
            raise ValueError(f"{name} must be ({frames}, {N_KEYS}) uint8, got {shard[name].shape}")
    pedal = shard.get("pedal")
    if pedal is not None and (pedal.shape != (frames,) or pedal.dtype != np.uint8):
        raise ValueError(f"pedal must be ({frames},) uint8, got {pedal.shape} {pedal.dtype}")
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **shard)  # type: ignore[arg-type]  # numpy stubs mistype **kwds
    return buffer.getvalue()


def decode_shard(data: bytes) -> Shard:
    """The arrays of one shard file."""
    with np.load(io.BytesIO(data)) as npz:
        return {name: npz[name] for name in npz.files}
