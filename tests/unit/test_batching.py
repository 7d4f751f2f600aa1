"""piano_ai.batching.ChunkBatcher: model calls of several threads joined into shared batches."""

import threading
import time

import numpy as np
import pytest

from piano_ai.batching import ChunkBatcher

FRAMES, MELS = 4, 3  # small chunks: the batcher never looks inside them


class Recorder:
    """A run function that records each batch's size; a chunk's outputs are its sum and its first column."""

    def __init__(self, fail: bool = False) -> None:
        self.sizes: list[int] = []
        self.fail = fail

    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        self.sizes.append(len(batch))
        if self.fail:
            raise RuntimeError("model broke")
        return {"onset": batch.sum(axis=(1, 2))[:, None], "frame": batch[:, :, :1]}


def chunks(first: int, count: int) -> np.ndarray:
    """``count`` chunks whose values are first, first + 1, ..."""
    return np.stack([np.full((FRAMES, MELS), first + i, np.float32) for i in range(count)])


def in_threads(batcher: ChunkBatcher, batches: list[np.ndarray]) -> list[dict[str, np.ndarray] | Exception]:
    """Each batch from its own attached thread, all attached before any calls; the outputs (or errors)."""
    results: list[dict[str, np.ndarray] | Exception] = [RuntimeError("not run")] * len(batches)
    attached = threading.Barrier(len(batches))

    def client(i: int) -> None:
        with batcher.client() as run:
            attached.wait()
            try:
                results[i] = run(batches[i])
            except Exception as exc:
                results[i] = exc

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_one_chunk_from_each_of_eight_streams_is_one_model_call() -> None:
    recorder = Recorder()
    batcher = ChunkBatcher(recorder, batch_size=8)
    results = in_threads(batcher, [chunks(10 * i, 1) for i in range(8)])
    assert recorder.sizes == [8]
    for i, result in enumerate(results):
        assert isinstance(result, dict)
        np.testing.assert_array_equal(result["onset"], [[10 * i * FRAMES * MELS]])  # its own row
        assert result["frame"].shape == (1, FRAMES, 1)


def test_a_call_never_exceeds_the_batch_size_but_a_full_batch_runs_whole() -> None:
    recorder = Recorder()
    batcher = ChunkBatcher(recorder, batch_size=4)
    results = in_threads(batcher, [chunks(0, 4), chunks(100, 1), chunks(200, 3), chunks(300, 2)])
    assert max(recorder.sizes) <= 4 and sum(recorder.sizes) == 10 and 4 in recorder.sizes
    outputs = [r for r in results if isinstance(r, dict)]
    assert [len(r["onset"]) for r in outputs] == [4, 1, 3, 2]
    np.testing.assert_array_equal(outputs[2]["onset"][:, 0], [(200 + i) * FRAMES * MELS for i in range(3)])


def test_only_calls_of_the_same_length_share_a_model_call() -> None:
    """A stream's last call is cut to the frames it fills: it joins calls of its own length, no other."""
    recorder = Recorder()
    batcher = ChunkBatcher(recorder, batch_size=8)
    short = np.stack([np.full((FRAMES - 1, MELS), 7, np.float32)])
    results = in_threads(batcher, [chunks(0, 2), short, chunks(10, 1), short.copy()])
    assert sorted(recorder.sizes) == [2, 3]
    assert all(isinstance(r, dict) for r in results)
    assert [r["frame"].shape for r in results if isinstance(r, dict)] == [
        (2, FRAMES, 1),
        (1, FRAMES - 1, 1),
        (1, FRAMES, 1),
        (1, FRAMES - 1, 1),
    ]


@pytest.mark.parametrize("parallel", [1, 2, 3])
def test_up_to_parallel_calls_run_at_once(parallel: int) -> None:
    """Each stream's full batch is a call of its own; ``parallel`` of them run at the same time, no more."""
    running, most = 0, 0
    lock = threading.Lock()

    def slow(batch: np.ndarray) -> dict[str, np.ndarray]:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.2)
        with lock:
            running -= 1
        return {"onset": batch.sum(axis=(1, 2))[:, None]}

    batcher = ChunkBatcher(slow, batch_size=2, parallel=parallel)
    results = in_threads(batcher, [chunks(10 * i, 2) for i in range(4)])
    assert most == parallel
    for i, result in enumerate(results):
        assert isinstance(result, dict)
        np.testing.assert_array_equal(result["onset"][:, 0], [(10 * i + j) * FRAMES * MELS for j in range(2)])


def test_a_lone_stream_runs_at_once() -> None:
    recorder = Recorder()
    batcher = ChunkBatcher(recorder, batch_size=8, max_wait_s=60)
    started = time.monotonic()
    with batcher.client() as run:
        run(chunks(0, 1))
        run(chunks(1, 3))
    assert recorder.sizes == [1, 3] and time.monotonic() - started < 5


def test_a_stream_that_is_not_calling_the_model_holds_the_others_at_most_max_wait() -> None:
    recorder = Recorder()
    batcher = ChunkBatcher(recorder, batch_size=8, max_wait_s=0.2)
    with batcher.client():  # attached, busy elsewhere (writing, beat tracking): never calls
        started = time.monotonic()
        results = in_threads(batcher, [chunks(0, 1), chunks(1, 1)])
        waited = time.monotonic() - started
    assert recorder.sizes == [2] and all(isinstance(r, dict) for r in results)
    assert 0.15 < waited < 5


def test_a_stream_that_leaves_lets_the_others_go_without_waiting() -> None:
    recorder = Recorder()
    batcher = ChunkBatcher(recorder, batch_size=8, max_wait_s=60)
    leave = threading.Event()

    def short_stream() -> None:
        with batcher.client():
            leave.wait(timeout=30)

    other = threading.Thread(target=short_stream)
    other.start()
    done: list[float] = []

    def caller() -> None:
        with batcher.client() as run:
            run(chunks(0, 1))
            done.append(time.monotonic())

    waiting = threading.Thread(target=caller)
    waiting.start()
    time.sleep(0.2)
    assert not done  # held for the attached stream (max_wait_s is a minute)
    left = time.monotonic()
    leave.set()
    other.join(timeout=30)
    waiting.join(timeout=30)
    assert done and done[0] - left < 5 and recorder.sizes == [1]


def test_a_failing_model_call_fails_every_stream_in_it_and_the_batcher_goes_on() -> None:
    broken = Recorder(fail=True)
    batcher = ChunkBatcher(broken, batch_size=8)
    results = in_threads(batcher, [chunks(0, 1), chunks(1, 1), chunks(2, 1)])
    assert broken.sizes == [3]
    assert all(isinstance(r, RuntimeError) and str(r) == "model broke" for r in results)
    broken.fail = False
    with batcher.client() as run:
        assert run(chunks(5, 2))["onset"].shape == (2, 1)


@pytest.mark.parametrize("streams", [2, 8])
def test_counters_add_up(streams: int) -> None:
    batcher = ChunkBatcher(Recorder(), batch_size=8)
    in_threads(batcher, [chunks(i, 1) for i in range(streams)])
    assert (batcher.calls, batcher.chunks) == (1, streams)
