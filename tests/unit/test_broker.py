"""The embedded broker: a consumer whose one-message prefetch is taken looks at the queue again as soon as
it settles that message, not after the polling interval (kombu's filesystem transport sleeps it out)."""

import threading
import time
import uuid
from pathlib import Path

import pytest
from kombu import Connection, Exchange, Message, Queue

from piano_ai.broker import PARTIAL, Transport
from piano_ai.broker import dumps as broker_dumps

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


def test_a_message_is_never_seen_half_written(tmp_path: Path) -> None:
    """kombu writes in place: a worker looking between the file's creation and its write read it empty and
    stopped. Here a file still being written has a name no queue matches, and the message appears whole."""
    queue = _queue()
    received: list[Message] = []
    with _connection(tmp_path) as connection:
        producer = connection.Producer()
        producer.publish("ready", exchange=queue.exchange, routing_key=queue.routing_key, declare=[queue])
        folder = tmp_path / "queue"
        (published,) = folder.iterdir()  # renamed into place whole: no partial file left beside it
        assert not published.name.startswith(PARTIAL) and published.stat().st_size > 0
        # What a message still being written looks like here: an empty file under the partial prefix.
        (folder / (PARTIAL + "1_x." + queue.name + ".msg")).write_bytes(b"")
        with connection.Consumer(queue, callbacks=[lambda _, m: received.append(m)], prefetch_count=1):
            connection.drain_events(timeout=5)
            received[0].ack()
            with pytest.raises(TimeoutError):  # the partial file is not a message: no error, nothing more
                connection.drain_events(timeout=0.3)
    assert [m.payload for m in received] == ["ready"]


def test_while_a_message_is_written_no_queue_file_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The moment the content is made (after the file was opened), nothing under the queue's name exists yet:
    kombu's own writer has the empty queue file there by then."""
    queue = _queue()
    folder = tmp_path / "queue"
    seen: list[list[str]] = []

    def dumps_watching(payload: object) -> str:
        seen.append(sorted(p.name for p in folder.iterdir()))
        return broker_dumps(payload)

    monkeypatch.setattr("piano_ai.broker.dumps", dumps_watching)
    with _connection(tmp_path) as connection:
        connection.Producer().publish(
            "x", exchange=queue.exchange, routing_key=queue.routing_key, declare=[queue]
        )
    assert len(seen) == 1 and len(seen[0]) == 1 and seen[0][0].startswith(PARTIAL), seen
