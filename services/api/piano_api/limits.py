"""Limits per API key on submissions: per minute, active (queued + running) jobs, upload bytes per UTC day.

Over a limit the API answers 429 with ``Retry-After``. The minute and day counters are fixed windows kept
in Redis when REDIS_URL is set (every API replica counts together), else in this process (the embedded
default has one API process). Active jobs are counted from the job rows, the source of truth.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session

from piano_ai.db import jobs as job_store
from piano_ai.settings import Settings
from piano_api.auth import Caller
from piano_api.problems import ApiError

logger = logging.getLogger(__name__)
MINUTE_S = 60
DAY_S = 86_400
ACTIVE_RETRY_AFTER_S = 30  # Retry-After when a key has too many active jobs, seconds (a short job's time)
COUNTER_PREFIX = "piano-ai:limit:"  # Redis key prefix


class Counter(Protocol):
    def add(self, name: str, amount: int, ttl_s: int) -> int:
        """Add ``amount`` to counter ``name`` (created at 0, forgotten ``ttl_s`` seconds after creation);
        returns the new total."""
        ...


class MemoryCounter:
    """Counters in this process (the embedded default); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, tuple[int, float]] = {}  # name -> (total, monotonic expiry)

    def add(self, name: str, amount: int, ttl_s: int) -> int:
        now = time.monotonic()
        with self._lock:
            if len(self._values) > 10_000:  # drop expired windows now and then
                self._values = {k: v for k, v in self._values.items() if v[1] > now}
            total, expires = self._values.get(name, (0, now + ttl_s))
            if expires <= now:
                total, expires = 0, now + ttl_s
            self._values[name] = (total + amount, expires)
            return total + amount


class RedisCounter:
    """Counters in Redis, shared by every API process."""

    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def add(self, name: str, amount: int, ttl_s: int) -> int:
        pipe = self._redis.pipeline()
        pipe.incrby(COUNTER_PREFIX + name, amount)
        pipe.expire(COUNTER_PREFIX + name, ttl_s, nx=True)
        total, _ = pipe.execute()
        return int(total)


def make_counter(settings: Settings) -> Counter:
    """Redis counters when REDIS_URL is set, else in-process ones."""
    return RedisCounter(settings.redis_url) if settings.redis_url else MemoryCounter()


@dataclass
class Limiter:
    """The limits of ``settings`` (0 turns one off), counted in ``counter``."""

    settings: Settings
    counter: Counter

    def _add(self, name: str, amount: int, ttl_s: int) -> int | None:
        try:
            return self.counter.add(name, amount, ttl_s)
        except Exception as exc:  # a counter outage must not stop submissions: the queue limits them too
            logger.warning("rate-limit counter unavailable (%s); not counting", exc)
            return None

    def check_rate(self, caller: Caller, now: float | None = None) -> None:
        """Count one submission in this minute; 429 ``rate_limited`` beyond the limit."""
        limit = self.settings.submissions_per_minute
        now = time.time() if now is None else now
        window = int(now // MINUTE_S)
        if not limit or (count := self._add(f"rate:{caller.prefix}:{window}", 1, 2 * MINUTE_S)) is None:
            return
        if count > limit:
            wait = MINUTE_S - int(now % MINUTE_S)
            raise ApiError(
                429,
                "rate_limited",
                f"this API key sent over {limit} submissions this minute; retry in {wait} s",
                {"Retry-After": str(wait)},
            )

    def check_active(self, session: Session, caller: Caller) -> None:
        """429 ``too_many_active_jobs`` when the key's queued + running jobs are at the limit."""
        limit = self.settings.max_active_jobs
        if limit and job_store.count_active(session, caller.key_id) >= limit:
            raise ApiError(
                429,
                "too_many_active_jobs",
                f"this API key has {limit} jobs queued or running; wait for some to finish",
                {"Retry-After": str(ACTIVE_RETRY_AFTER_S)},
            )

    def charge_bytes(self, caller: Caller, size: int, now: float | None = None) -> Callable[[], None]:
        """Count ``size`` upload bytes in today's (UTC) quota; 429 ``daily_quota_exceeded`` (and nothing
        counted) when they do not fit. Returns the refund: it takes the bytes off that same day's count
        again, for an upload that made no job (storage or the job store failed)."""
        limit = self.settings.upload_bytes_per_day
        now = time.time() if now is None else now
        name = f"bytes:{caller.prefix}:{int(now // DAY_S)}"
        if not limit or (total := self._add(name, size, 2 * DAY_S)) is None:
            return _nothing
        if total <= limit:
            return lambda: self._refund(name, size)
        self._add(name, -size, 2 * DAY_S)
        wait = DAY_S - int(now % DAY_S)
        mb = self.settings.upload_mb_per_day
        raise ApiError(
            429,
            "daily_quota_exceeded",
            f"this upload would pass this API key's {mb:g} MB a day; the quota renews at 00:00 UTC",
            {"Retry-After": str(wait)},
        )

    def _refund(self, name: str, size: int) -> None:
        if self._add(name, -size, 2 * DAY_S) is None:
            logger.warning("could not give back %d bytes to counter %s", size, name)


def _nothing() -> None:
    """The refund of bytes that were not counted."""
