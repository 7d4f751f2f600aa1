"""Stored model outputs: a recording's activations kept compressed, so notes can be decoded again with
other parameters without running the model. Pure numpy; used by the worker, the API and the CLI alike.

The file is an .npz (zip, deflate) holding one uint8 array per head, (frames, width) with
value = round(probability * QUANT_LEVELS), plus its format version and frame period. Every head the model
returns is kept (onset, frame, offset, velocity: width N_KEYS; any later head such as a pedal: its own
width), so a head added to the model is stored without a change here.
"""

import io
import zipfile
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from piano_ai.constants import SECONDS_PER_FRAME
from piano_ai.errors import InvalidActivationsError
from piano_ai.types import Activations, FloatArray

FORMAT_VERSION = 1  # bump when the layout changes; loading refuses other versions
QUANT_LEVELS = 255  # probabilities are stored as uint8 steps of 1 / QUANT_LEVELS (error <= 0.002)
ZIP_LEVEL = 1  # deflate level of the .npz: the fastest (what the worker stores on every job)
SUFFIX = ".activations.npz"  # the CLI's file name: <stem>.activations.npz
_META = ("format_version", "seconds_per_frame")  # arrays in the file that are not heads

Heads = Mapping[str, npt.NDArray]  # head name -> (frames, width) float32 in 0..1, or uint8 quantize() steps


def heads_of(act: Activations) -> dict[str, FloatArray]:
    """Every head an Activations holds, by name, each (frames, width): the pedal's (frames,) becomes
    (frames, 1), as the model gives it and the worker stores it (heads left as None are skipped)."""
    heads = {f.name: getattr(act, f.name) for f in fields(act) if getattr(act, f.name) is not None}
    return {name: a if np.ndim(a) == 2 else np.reshape(a, (-1, 1)) for name, a in heads.items()}


def activations_from_heads(heads: Heads) -> Activations:
    """The Activations that the decoder reads, from stored heads; heads it has no field for are ignored."""
    known = {f.name for f in fields(Activations)}
    try:
        return Activations(**{name: array for name, array in heads.items() if name in known})
    except TypeError as exc:  # a required head is missing
        raise InvalidActivationsError(f"stored activations lack a head the decoder needs ({exc})") from exc


def quantize(probabilities: FloatArray) -> npt.NDArray[np.uint8]:
    """(frames, width) float in 0..1 -> uint8 steps of 1 / QUANT_LEVELS (out-of-range values are clipped)."""
    scaled = np.clip(np.asarray(probabilities, np.float32), 0.0, 1.0) * QUANT_LEVELS
    return np.rint(scaled).astype(np.uint8)


def dequantize(steps: npt.NDArray[np.uint8]) -> FloatArray:
    """The inverse of quantize: uint8 steps -> float32 probabilities in 0..1."""
    return (steps.astype(np.float32) / np.float32(QUANT_LEVELS)).astype(np.float32)


def as_stored(probabilities: FloatArray) -> FloatArray:
    """The float32 values a stored file gives back for these (dequantize(quantize(...))): what every path
    decodes notes from, so a stored job decodes again to its own notes exactly."""
    return dequantize(quantize(probabilities))


def dumps(act: Activations | Heads) -> bytes:
    """The .npz bytes of every head of ``act`` (an Activations or a mapping of head name -> array)."""
    heads = heads_of(act) if isinstance(act, Activations) else dict(act)
    frames = {np.shape(array)[0] for array in heads.values()}
    if len(frames) > 1 or any(np.ndim(array) != 2 for array in heads.values()):
        shapes = {name: np.shape(array) for name, array in heads.items()}
        raise ValueError(f"every head must be (frames, width) with the same frames; got {shapes}")
    if not heads or set(heads) & set(_META):
        raise ValueError(f"nothing to store, or a head named like the metadata: {sorted(heads)}")
    # already-quantized heads (uint8, as transcribe_blocks keeps them) are stored as they are
    arrays: dict[str, Any] = {
        name: array if array.dtype == np.uint8 else quantize(array) for name, array in heads.items()
    }
    arrays.update(format_version=np.int32(FORMAT_VERSION), seconds_per_frame=np.float64(SECONDS_PER_FRAME))
    # np.savez_compressed's layout (one .npy per array in a deflate zip) at the fastest deflate level, which
    # a worker pays on every job: a 4-minute MAPS recording's heads in 55-64 ms of CPU and 1.04 MB against
    # savez_compressed's 122-162 ms and 0.96 MB (a 5 s clip: 1.5 against 2.1 ms). np.load reads either.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=ZIP_LEVEL) as archive:
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
    return buffer.getvalue()


def loads_heads(data: bytes) -> dict[str, FloatArray]:
    """Every stored head (float32, 0..1) from .npz bytes written by ``dumps``."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            version = int(npz["format_version"]) if "format_version" in npz.files else None
            if version != FORMAT_VERSION:
                raise InvalidActivationsError(
                    f"activations format {version} is not {FORMAT_VERSION}; convert the recording again"
                )
            period = float(npz["seconds_per_frame"])
            if not np.isclose(period, SECONDS_PER_FRAME):
                raise InvalidActivationsError(
                    f"activations at {period} s per frame; this version decodes {SECONDS_PER_FRAME} s"
                )
            return {name: dequantize(npz[name]) for name in npz.files if name not in _META}
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise InvalidActivationsError(f"not a piano-ai activations file ({exc})") from exc


def loads(data: bytes) -> Activations:
    """The Activations stored in .npz bytes written by ``dumps``."""
    return activations_from_heads(loads_heads(data))


def save(act: Activations | Heads, path: str | Path) -> Path:
    """Write ``dumps(act)`` to ``path``; returns the path."""
    path = Path(path)
    path.write_bytes(dumps(act))
    return path


def load(path: str | Path) -> Activations:
    """Read an activations file; InvalidActivationsError when it is not one, missing included."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InvalidActivationsError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    return loads(data)
