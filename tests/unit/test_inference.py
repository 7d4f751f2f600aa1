"""Chunked inference: stitching must reproduce a whole-sequence run of a frame-local model exactly."""

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from piano_ai import inference
from piano_ai.activations import QUANT_LEVELS, as_stored
from piano_ai.constants import N_KEYS, N_MELS
from piano_ai.errors import ModelNotFoundError
from piano_ai.levels import key_levels
from piano_ai.model import HEADS, ModelConfig

STEP = 1 / QUANT_LEVELS + 1e-6  # outputs come in steps of 1/255: runtimes 1e-6 apart may round a step apart


def _probabilities(values: np.ndarray) -> dict[str, np.ndarray]:
    """A different 0..1 value per head from the same (..., keys) values (a logistic, scaled by the head)."""
    logistic = 1 / (1 + np.exp(-values.astype(np.float32)))
    return {head: logistic / (i + 1) for i, head in enumerate(HEADS)}


def _frame_local(batch: np.ndarray) -> dict[str, np.ndarray]:
    """A stand-in network whose output at a frame depends only on that frame: (b, t, mels) -> (b, t, keys)."""
    return _probabilities(batch[..., :N_KEYS])


@pytest.mark.parametrize("frames", [0, 1, 100, inference.CHUNK_FRAMES, 3 * inference.CHUNK_FRAMES + 7, 4000])
def test_stitching_covers_every_frame_once(frames: int) -> None:
    mel = np.random.default_rng(frames).normal(size=(frames, N_MELS)).astype(np.float32)
    model = inference.Transcriber(_frame_local, ModelConfig(), "test", Path("."))
    seen: list[float] = []
    act = model.predict(mel, progress=seen.append)
    assert act.onset.shape == (frames, N_KEYS)
    want = _probabilities(mel[:, :N_KEYS])  # each frame's own, rounded as stored
    np.testing.assert_array_equal(act.onset, as_stored(want["onset"]))
    np.testing.assert_array_equal(act.velocity, as_stored(want["velocity"]))
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)


def test_chunks_have_bounded_size() -> None:
    calls: list[tuple[int, ...]] = []

    def recording(batch: np.ndarray) -> dict[str, np.ndarray]:
        calls.append(batch.shape)
        return _frame_local(batch)

    model = inference.Transcriber(recording, ModelConfig(), "test", Path("."))
    model.predict(np.zeros((10_000, N_MELS), np.float32))
    assert {shape[2] for shape in calls} == {N_MELS}
    assert max(shape[1] for shape in calls) == inference.CHUNK_FRAMES  # the last window is cut: 176 frames
    assert max(shape[0] for shape in calls) == inference.BATCH_SIZE // inference.CALLS_AHEAD  # a call's share


@pytest.mark.parametrize("frames", [1, 157, inference.STEP_FRAMES])
def test_a_recording_shorter_than_a_chunk_runs_only_its_own_frames(frames: int) -> None:
    calls: list[tuple[int, ...]] = []

    def recording(batch: np.ndarray) -> dict[str, np.ndarray]:
        calls.append(batch.shape)
        return _frame_local(batch)

    model = inference.Transcriber(recording, ModelConfig(), "test", Path("."))
    model.predict(np.zeros((frames, N_MELS), np.float32))
    assert calls == [(1, frames, N_MELS)]


def test_the_last_batch_is_cut_to_the_frames_its_chunks_fill() -> None:
    """One chunk past a whole batch: its window starts OVERLAP_FRAMES before its own frames."""
    calls: list[tuple[int, ...]] = []

    def recording(batch: np.ndarray) -> dict[str, np.ndarray]:
        calls.append(batch.shape)
        return _frame_local(batch)

    per_call = inference.BATCH_SIZE // inference.CALLS_AHEAD  # a stream's calls at once hold BATCH_SIZE
    frames = 2 * per_call * inference.STEP_FRAMES + 100
    model = inference.Transcriber(recording, ModelConfig(), "test", Path("."))
    model.predict(np.zeros((frames, N_MELS), np.float32))
    assert sorted(calls, reverse=True) == [  # calls run at once (calls ahead): in any order
        (per_call, inference.CHUNK_FRAMES, N_MELS),
        (per_call, inference.CHUNK_FRAMES, N_MELS),
        (1, 100 + inference.OVERLAP_FRAMES, N_MELS),
    ]


def _context_model(batch: np.ndarray) -> dict[str, np.ndarray]:
    """A stand-in whose output at a frame depends on everything before it in the chunk (like the LSTM),
    so streamed and whole runs agree only if they cut the same chunks and pad them alike."""
    running = np.cumsum(batch[..., :N_KEYS], axis=1) / np.arange(1, batch.shape[1] + 1)[:, None]
    outputs = _probabilities(running)
    return outputs | {"pedal": outputs["onset"][..., :1]}


@pytest.mark.parametrize("frames", [0, 1, 100, 4000, 10_000])
@pytest.mark.parametrize("block_frames", [1, 333, 4096])
def test_streamed_log_mel_gives_what_predict_gives(frames: int, block_frames: int) -> None:
    mel = np.random.default_rng(frames).normal(-5, 2, size=(frames, N_MELS)).astype(np.float32)
    model = inference.Transcriber(_context_model, ModelConfig(), "test", Path("."))
    blocks = [mel[i : i + block_frames] for i in range(0, frames, block_frames)]
    streamed = list(model.stream(blocks))
    whole = model.predict(mel)
    for head in HEADS:
        np.testing.assert_array_equal(np.concatenate([b[head] for b in streamed]), getattr(whole, head))
    assert np.concatenate([b["pedal"] for b in streamed]).shape == (frames, 1)  # every output passes on
    levels = np.concatenate([b["level"] for b in streamed])  # and each frame's key levels, read off the mel
    np.testing.assert_array_equal(levels, whole.level)
    np.testing.assert_array_equal(levels, as_stored(key_levels(mel)))


@pytest.mark.parametrize("frames", [100, 1000, 13 * inference.STEP_FRAMES + 20, 10_000])
def test_a_chunk_gives_the_same_outputs_at_any_batch_size(frames: int) -> None:
    """A chunk's outputs depend on its own frames only (no padding) whatever the batch size, so files
    converted together (ChunkBatcher) or with another call plan give the notes each gets alone."""

    def whole_chunk(batch: np.ndarray) -> dict[str, np.ndarray]:
        """Every frame's output depends on the whole chunk, later frames and padding too (a backward LSTM)."""
        centred = batch[..., :N_KEYS] - batch[..., :N_KEYS].mean(axis=1, keepdims=True)
        return _probabilities(centred)

    mel = np.random.default_rng(frames).normal(-5, 2, size=(frames, N_MELS)).astype(np.float32)
    outputs = [
        inference.Transcriber(whole_chunk, ModelConfig(), "test", Path("."), batch_size=size).predict(mel)
        for size in (1, 3, 4, 8)
    ]
    for other in outputs[1:]:
        for head in HEADS:
            np.testing.assert_array_equal(getattr(other, head), getattr(outputs[0], head))


def test_stream_holds_a_bounded_window_and_answers_as_it_goes() -> None:
    """Activations come back while the log-mel is still arriving, never more than a few batches behind."""
    model = inference.Transcriber(_frame_local, ModelConfig(), "test", Path("."))
    given = 0

    def blocks() -> Iterator[np.ndarray]:
        nonlocal given
        for _ in range(100):
            given += 4096
            yield np.zeros((4096, N_MELS), np.float32)

    answered = 0
    for block in model.stream(blocks()):
        answered += len(block["onset"])
        assert given - answered <= 4096 + inference.BATCH_SIZE * inference.CHUNK_FRAMES
    assert answered == given


class _Calls:
    """A stand-in network that records the threads of its calls and how many ran at once."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.threads: list[int] = []
        self.at_once = self.most_at_once = 0
        self.fail_at = fail_at
        self.lock = threading.Lock()

    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        with self.lock:
            self.threads.append(threading.get_ident())
            self.at_once += 1
            self.most_at_once = max(self.most_at_once, self.at_once)
            failing = len(self.threads) == self.fail_at
        time.sleep(0.01)  # long enough for the next call to start beside this one
        with self.lock:
            self.at_once -= 1
        if failing:
            raise RuntimeError("the model failed")
        return _frame_local(batch)


def test_a_long_recording_runs_its_calls_ahead_in_threads_of_their_own() -> None:
    calls = _Calls()
    model = inference.Transcriber(calls, ModelConfig(), "test", Path("."), batch_size=2)
    mel = np.random.default_rng(0).normal(-5, 2, size=(20 * inference.STEP_FRAMES, N_MELS)).astype(np.float32)
    blocks = [mel[i : i + 1000] for i in range(0, len(mel), 1000)]
    streamed = np.concatenate([block["onset"] for block in model.stream(blocks)])
    np.testing.assert_array_equal(streamed, as_stored(_frame_local(mel[None])["onset"][0]))  # in order
    assert threading.get_ident() not in calls.threads
    assert calls.most_at_once == inference.CALLS_AHEAD


def test_a_recording_shorter_than_a_batch_runs_in_the_callers_thread() -> None:
    calls = _Calls()
    model = inference.Transcriber(calls, ModelConfig(), "test", Path("."))
    threads_before = threading.active_count()
    list(model.stream([np.zeros((2 * inference.CHUNK_FRAMES, N_MELS), np.float32)]))
    assert set(calls.threads) == {threading.get_ident()}
    assert threading.active_count() == threads_before


def test_a_failed_call_ahead_fails_the_stream_and_a_closed_stream_leaves_no_call_running() -> None:
    mel = np.zeros((20 * inference.STEP_FRAMES, N_MELS), np.float32)
    failing = inference.Transcriber(_Calls(fail_at=3), ModelConfig(), "test", Path("."), batch_size=2)
    with pytest.raises(RuntimeError, match="the model failed"):
        list(failing.stream([mel]))
    calls = _Calls()
    stream = inference.Transcriber(calls, ModelConfig(), "test", Path("."), batch_size=2).stream([mel])
    next(stream)
    stream.close()  # the caller stops early (a cancelled job): waits for the calls in flight, starts none
    started = len(calls.threads)
    time.sleep(0.05)
    assert calls.at_once == 0 and len(calls.threads) == started < 10


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
        np.testing.assert_allclose(a, b, atol=STEP)
