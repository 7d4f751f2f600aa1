"""prefetch: items in order, errors where they happened, and an early stop that closes the source."""

import threading
import time
from collections.abc import Iterator

import pytest

from piano_ai.prefetch import prefetch


def test_items_come_in_order() -> None:
    assert list(prefetch(range(100), depth=3)) == list(range(100))


def test_an_error_comes_after_the_items_before_it() -> None:
    def failing() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("bad block")

    got = []
    with pytest.raises(ValueError, match="bad block"):
        for item in prefetch(failing()):
            got.append(item)
    assert got == [1, 2]


def test_the_producer_runs_ahead_but_not_further_than_depth() -> None:
    made: list[int] = []

    def counted() -> Iterator[int]:
        for i in range(50):
            made.append(i)
            yield i

    items = prefetch(counted(), depth=2)
    assert next(items) == 0
    time.sleep(0.3)  # let the producer fill the queue
    assert 2 <= len(made) <= 4  # the one taken, two queued, one waiting to be queued
    items.close()


def test_stopping_early_closes_the_source_and_the_thread() -> None:
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            while True:
                yield 0
        finally:
            closed.set()

    before = threading.active_count()
    for _ in prefetch(endless()):
        break
    assert closed.wait(2.0)
    assert threading.active_count() == before
