"""Celery's Redis transport, keeping one Redis client per channel instead of making one per command.

kombu's Redis channel builds a new ``redis.Redis`` object for every publish, every acknowledgement and every
delivery's bookkeeping (``Channel.conn_or_acquire``), and building one copies redis-py's table of response
callbacks: about 0.13 ms of CPU, twice what the LPUSH of a submit costs. A ``redis.Redis`` is safe to share
between threads (each command takes a connection from the channel's pool), so the channel builds it once.
Everything else is kombu's. Used for ``redis://`` URLs (piano_ai.settings.Settings.broker_transport).
"""

from typing import Any

from kombu.transport import redis


class Channel(redis.Channel):  # type: ignore[misc]
    _shared_client: Any = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:  # the event loop's client: kombu already keeps one (Channel.client)
            return super()._create_client(asynchronous=True)
        client = self._shared_client
        if client is None or client.connection_pool is not self.pool:  # a new pool after a fork or close
            client = self._shared_client = super()._create_client()
        return client


class Transport(redis.Transport):  # type: ignore[misc]
    Channel = Channel
