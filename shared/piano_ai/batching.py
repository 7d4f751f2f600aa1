"""One model shared by several streams (threads), their chunks run together in batches.

Transcriber.stream runs a file's chunks BATCH_SIZE at a time, but a file shorter than BATCH_SIZE chunks
(1 min 55 s) fills no batch, and its last batch seldom is full: a folder of short clips runs the model one
chunk at a time. Converting several files at once, each in its own thread with a ChunkBatcher client as its
model call, joins their chunks into shared model calls. A chunk's outputs do not depend on the other chunks
in its batch, so each file's notes are the ones it gets alone (tests/unit/test_batching.py checks this).

A call waits until BATCH_SIZE chunks are queued, or every attached stream is waiting on the model (none is
still decoding), or the oldest queued call has waited MAX_WAIT_S: a stream busy with something else (writing,
beat tracking) holds the others back that long at most.
"""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from piano_ai.inference import BATCH_SIZE
from piano_ai.runtimes import RunFn
from piano_ai.types import FloatArray

MAX_WAIT_S = 0.2  # the longest a queued call waits for streams that are not calling the model


@dataclass
class _Call:
    """One stream's model call: its chunks, then its outputs (or the error the shared call raised)."""

    batch: FloatArray  # (chunks, frames, N_MELS)
    queued_at: float  # time.monotonic() when it was queued
    outputs: dict[str, FloatArray] | None = None
    error: BaseException | None = None
    taken: bool = False  # in a shared call that a thread is running


class ChunkBatcher:
    """Gathers the model calls of the streams attached with client() into calls of up to batch_size chunks."""

    def __init__(
        self,
        run: RunFn,
        batch_size: int = BATCH_SIZE,
        max_wait_s: float | None = None,
        parallel: int = 1,
    ) -> None:
        self._run = run
        self.batch_size = batch_size
        self.max_wait_s = MAX_WAIT_S if max_wait_s is None else max_wait_s
        self.parallel = parallel  # shared calls that may run at once, each in its stream's thread
        self._lock = threading.Condition()
        self._queued: list[_Call] = []
        self._clients = 0  # attached streams
        self._running = 0  # shared calls running now (outside the lock)
        self._in_running = 0  # stream calls in them
        self.calls = 0  # model calls made, for tests and the benchmark
        self.chunks = 0  # chunks run

    @contextmanager
    def client(self) -> Iterator[RunFn]:
        """Attach a stream while the block runs; the run function it yields takes the stream's batches."""
        with self._lock:
            self._clients += 1
        try:
            yield self._call
        finally:
            with self._lock:
                self._clients -= 1
                self._lock.notify_all()  # the others may now be all that is left: their calls can go

    def _call(self, batch: FloatArray) -> dict[str, FloatArray]:
        call = _Call(batch, time.monotonic())
        with self._lock:
            self._queued.append(call)
            while call.outputs is None and call.error is None:
                if call.taken or self._running >= self.parallel:  # in a running call, or no room for one
                    self._lock.wait()
                    continue
                wait_s = self._wait_s()  # still queued, and a call may start
                if wait_s <= 0:
                    self._run_queued()
                else:
                    self._lock.wait(wait_s)
        if call.error is not None:
            raise call.error
        assert call.outputs is not None
        return call.outputs

    def _wait_s(self) -> float:
        """Seconds until the queued calls should run (0 or less: now)."""
        queued = sum(len(call.batch) for call in self._queued)
        if queued >= self.batch_size or len(self._queued) + self._in_running >= self._clients:
            return 0.0
        return self._queued[0].queued_at + self.max_wait_s - time.monotonic()

    def _run_queued(self) -> None:
        """Run the oldest queued call and the next ones of its shape (up to batch_size chunks) as one call;
        holds the lock. A stream's last call may be shorter than CHUNK_FRAMES: it joins only its length."""
        first = self._queued[0]
        taken, size = [first], len(first.batch)
        for call in self._queued[1:]:
            if call.batch.shape[1:] != first.batch.shape[1:]:
                continue
            if size + len(call.batch) > self.batch_size:
                break
            taken.append(call)
            size += len(call.batch)
        self._queued = [call for call in self._queued if all(call is not t for t in taken)]
        for call in taken:
            call.taken = True
        self._running += 1
        self._in_running += len(taken)
        self._lock.release()
        try:
            joined = taken[0].batch if len(taken) == 1 else np.concatenate([c.batch for c in taken])
            outputs = self._run(joined)
            start = 0
            for call in taken:
                end = start + len(call.batch)
                call.outputs = {head: values[start:end] for head, values in outputs.items()}
                start = end
        except BaseException as exc:  # every caller in the shared call gets the error
            for call in taken:
                call.error = exc
        finally:
            self._lock.acquire()
            self._running -= 1
            self._in_running -= len(taken)
            self.calls += 1
            self.chunks += size
            self._lock.notify_all()
