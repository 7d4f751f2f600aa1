"""Chunked inference: stitching must reproduce a whole-sequence run of a frame-local model exactly."""

from pathlib import Path

import numpy as np
import pytest

from piano_ai import inference
from piano_ai.constants import N_KEYS, N_MELS
from piano_ai.errors import ModelNotFoundError
from piano_ai.model import HEADS, ModelConfig


def _frame_local(batch: np.ndarray) -> dict[str, np.ndarray]:
    """A stand-in network whose output at a frame depends only on that frame: (b, t, mels) -> (b, t, keys)."""
    value = batch[..., :N_KEYS]
    return {head: value + i for i, head in enumerate(HEADS)}


@pytest.mark.parametrize("frames", [0, 1, 100, inference.CHUNK_FRAMES, 3 * inference.CHUNK_FRAMES + 7, 4000])
def test_stitching_covers_every_frame_once(frames: int) -> None:
    mel = np.random.default_rng(frames).normal(size=(frames, N_MELS)).astype(np.float32)
    model = inference.Transcriber(_frame_local, ModelConfig(), "test", Path("."))
    seen: list[float] = []
    act = model.predict(mel, progress=seen.append)
    assert act.onset.shape == (frames, N_KEYS)
    np.testing.assert_array_equal(act.onset, mel[:, :N_KEYS])
    np.testing.assert_array_equal(act.velocity, mel[:, :N_KEYS] + 3)
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)


def test_chunks_have_bounded_size() -> None:
    mel = np.zeros((10_000, N_MELS), np.float32)
    chunks, spans = inference._chunk(mel)
    assert {c.shape for c in chunks} == {(inference.CHUNK_FRAMES, N_MELS)}
    kept = sum(dst.stop - dst.start for dst, _ in spans)
    assert kept == 10_000


def test_missing_model_dir_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="config.json is missing"):
        inference.load_transcriber(tmp_path)


def test_model_with_other_constants_is_refused(tmp_path: Path) -> None:
    ModelConfig(hop_length=256).save(tmp_path / "config.json")
    with pytest.raises(ModelNotFoundError, match="other signal constants"):
        inference.load_transcriber(tmp_path)


def test_shipped_model_loads_and_runs_on_both_runtimes() -> None:
    mel = np.random.default_rng(0).normal(-5, 2, size=(700, N_MELS)).astype(np.float32)
    onnx = inference.load_transcriber(runtime="onnx").predict(mel)
    keras = inference.load_transcriber(runtime="keras").predict(mel)
    for head in HEADS:
        a, b = getattr(onnx, head), getattr(keras, head)
        assert a.shape == (700, N_KEYS) and 0.0 <= a.min() and a.max() <= 1.0
        np.testing.assert_allclose(a, b, atol=1e-4)
