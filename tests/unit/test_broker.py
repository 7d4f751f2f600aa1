"""The embedded broker: a consumer whose one-message prefetch is taken looks at the queue again as soon as
it settles that message, not after the polling interval (kombu's filesystem transport sleeps it out)."""

import threading
import time
import uuid
from pathlib import Path

import pytest
from kombu import Connection, Exchange, Message, Queue

from piano_ai.broker import Transport

POLL_S = 3.0  # long, so a wait for the next look shows plainly


def _queue() -> Queue:
    """A queue of the test's own (kombu keeps exchange bindings in state shared by its connections)."""
    name = f"jobs-{uuid.uuid4().hex[:8]}"
    return Queue(name, Exchange(name), name)


def _connection(tmp_path: Path) -> Connection:
    folders = {name: tmp_path / name for name in ("queue", "processed", "control")}
    for folder in folders.values():
        folder.mkdir()
    options = {
        "data_folder_in": str(folders["queue"]),
        "data_folder_out": str(folders["queue"]),
        "processed_folder": str(folders["processed"]),
        "control_folder": str(folders["control"]),
        "polling_interval": POLL_S,
    }
    return Connection("filesystem://", transport=Transport, transport_options=options)


@pytest.mark.parametrize("settle", ["ack", "reject"])
def test_the_next_message_is_taken_as_soon_as_the_last_is_settled(tmp_path: Path, settle: str) -> None:
    queue = _queue()
    received: list[Message] = []
    with _connection(tmp_path) as connection:
        producer = connection.Producer()
        for body in ("first", "second"):
            producer.publish(body, exchange=queue.exchange, routing_key=queue.routing_key, declare=[queue])
        with connection.Consumer(queue, callbacks=[lambda _, m: received.append(m)], prefetch_count=1):
            connection.drain_events(timeout=10)
            assert len(received) == 1  # published in the same millisecond: either may come first
            # The job ends 0.3 s later, on another thread (Celery's pool result handler).
            settle_first = getattr(received[0], settle)
            threading.Timer(0.3, settle_first).start()
            start = time.monotonic()
            connection.drain_events(timeout=10)
            waited = time.monotonic() - start
    assert sorted(m.payload for m in received) == ["first", "second"]
    assert 0.25 < waited < POLL_S / 2, f"took the second message after {waited:.2f} s"


def test_an_empty_queue_still_times_out(tmp_path: Path) -> None:
    queue = _queue()
    with _connection(tmp_path) as connection, connection.Consumer(queue, prefetch_count=1):
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            connection.drain_events(timeout=0.5)
        assert time.monotonic() - start < POLL_S
