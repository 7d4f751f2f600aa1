"""Our Redis transport on the real Redis: kombu's behaviour with one Redis client per channel, made again when
the channel's connection pool is replaced (after a fork)."""

import uuid
from collections.abc import Iterator

import pytest
import redis
from kombu import Connection, Exchange, Queue
from kombu.transport import redis as kombu_redis
from service_testkit import REDIS_BASE_URL

from piano_ai.redis_broker import Transport
from piano_ai.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def queue() -> Iterator[Queue]:
    name = f"redis_broker_{uuid.uuid4().hex[:8]}"
    yield Queue(name, Exchange(name), name)
    redis.Redis.from_url(REDIS_BASE_URL).delete(name)


def _publish_get_ack(transport: type, queue: Queue, count: int = 5) -> tuple[list[int], int]:
    """Publish ``count`` messages, take and acknowledge each; (their payloads in order, the Redis client
    objects the channel built meanwhile)."""
    server = redis.Redis.from_url(REDIS_BASE_URL)
    unacked = server.hlen("unacked")  # kombu's deliveries not yet acknowledged, shared by every queue
    with Connection(REDIS_BASE_URL, transport=transport) as conn:
        channel = conn.default_channel
        built = []
        client_class = channel.Client

        def counting(**kwargs: object) -> redis.Redis:
            built.append(kwargs)
            return client_class(**kwargs)

        channel.Client = counting
        with conn.Producer() as producer:
            for n in range(count):
                producer.publish(
                    {"n": n}, exchange=queue.exchange, routing_key=queue.routing_key, declare=[queue]
                )
        bound = queue(channel)
        got = []
        for _ in range(count):
            message = bound.get(no_ack=False)
            assert message is not None
            got.append(message.payload["n"])
            message.ack()
        assert bound.get() is None
        assert server.llen(queue.name) == 0 and server.hlen("unacked") == unacked  # every delivery settled
        return got, len(built)


def test_messages_go_through_one_client_per_channel(queue: Queue) -> None:
    got, built = _publish_get_ack(Transport, queue)
    assert got == [0, 1, 2, 3, 4]
    assert built == 1


def test_kombus_own_transport_builds_a_client_per_command(queue: Queue) -> None:
    """What the transport is for: kombu's builds one for every publish, delivery and acknowledgement."""
    got, built = _publish_get_ack(kombu_redis.Transport, queue)
    assert got == [0, 1, 2, 3, 4]
    assert built >= 15


def test_a_new_pool_gets_a_new_client(queue: Queue) -> None:
    with Connection(REDIS_BASE_URL, transport=Transport) as conn:
        channel = conn.default_channel
        before = channel._create_client()
        channel._after_fork()  # what kombu does in a forked child: the pools are dropped
        after = channel._create_client()
        assert after is not before and after.connection_pool is channel.pool
        assert after.ping()


@pytest.mark.parametrize(
    ("url", "transport"),
    [
        ("redis://redis:6379/0", "piano_ai.redis_broker:Transport"),
        ("rediss://redis:6380/0", None),  # kombu's own, which sets up TLS from the scheme
        ("", "piano_ai.broker:Transport"),
    ],
)
def test_settings_pick_the_transport_by_url(url: str, transport: str | None) -> None:
    assert Settings(redis_url=url).broker_transport == transport
