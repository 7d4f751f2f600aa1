"""Run an iterator a few items ahead in a thread, so producing the next item overlaps using this one.

Decoding is mostly C (libsndfile, soxr) or another process (ffmpeg) and releases the GIL, so the next audio
block is decoded while the model runs on the current one.
"""

import queue
import threading
from collections.abc import Generator, Iterable
from typing import TypeVar

T = TypeVar("T")

POLL_S = 0.1  # how often a producer blocked on a full queue checks whether the consumer has gone


def prefetch(items: Iterable[T], depth: int = 2) -> Generator[T, None, None]:
    """Yield ``items`` in order while a thread produces up to ``depth`` of them ahead.

    An exception in the producer is raised here, after the items before it. Stopping early (break, an error
    downstream, close()) stops the producer and closes ``items`` (so an ffmpeg process behind it ends).
    """
    ahead: queue.Queue[tuple[bool, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[bool, object]) -> bool:
        while not stop.is_set():
            try:
                ahead.put(entry, timeout=POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        iterator = iter(items)
        try:
            for item in iterator:
                if not put((False, item)):
                    return
            put((True, None))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put((True, exc))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="prefetch", daemon=True)
    thread.start()
    try:
        while True:
            done, value = ahead.get()
            if done:
                if isinstance(value, BaseException):
                    raise value
                return
            yield value  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()
