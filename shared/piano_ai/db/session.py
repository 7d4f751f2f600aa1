"""Engine and sessions from settings.database_url."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from piano_ai.db.sqlite_writes import QueuedWritesConnection
from piano_ai.settings import get_settings

PING_AFTER_IDLE_S = 5.0  # a pooled Postgres connection idle this long is checked before use


def normalize_url(url: str) -> str:
    """Pin plain postgres URLs to psycopg2, the driver we ship (SQLAlchemy 2.1 defaults to psycopg 3)."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg2://" + url.removeprefix(scheme)
    return url


def make_engine(url: str, connect_timeout_s: int = 5, pool_size: int = 20) -> Engine:
    """An engine for ``url``; SQLite gets WAL and a busy timeout so API and worker can share the file.

    Postgres connections give up after ``connect_timeout_s`` seconds (a hung server, a dropped network
    path), so a request fails fast instead of waiting for the kernel's TCP timeout. Up to ``pool_size``
    connections stay open for reuse (opened on demand); 10 more are opened and closed when busier.
    """
    url = normalize_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Writers of this process queue on a lock instead of sleeping in SQLite's busy handler.
        args = {"timeout": 30, "check_same_thread": False, "factory": QueuedWritesConnection}
        pool = {"pool_size": pool_size, "max_overflow": 10} if path and path != ":memory:" else {}
        engine = create_engine(url, connect_args=args, **pool)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            # WAL + NORMAL: no fsync per commit (progress updates are frequent); still never corrupt.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    engine = create_engine(
        url, pool_size=pool_size, max_overflow=10, connect_args={"connect_timeout": connect_timeout_s}
    )
    ping_when_idle(engine, PING_AFTER_IDLE_S)
    return engine


def ping_when_idle(engine: Engine, idle_s: float) -> None:
    """Check a pooled connection with a round trip before use only when it has been idle for ``idle_s``.

    SQLAlchemy's pool_pre_ping checks every checkout, and a job checks one out for each write (the claim,
    the result, a submit, each poll): a worker spent about 2 ms a job pinging Postgres (py-spy,
    docs/benchmarks.md "Job service"). A connection used within the last seconds is alive but for a
    server restart in between; then its statement fails, SQLAlchemy drops every connection of the pool, and
    that one request answers 503 (the worker retries its task). A dead idle connection is replaced unseen.
    """

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < idle_s:
            return  # new, or used a moment ago
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"pooled connection is gone ({exc})") from exc  # the pool reconnects


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (handlers read them after writing)."""
    return sessionmaker(engine, expire_on_commit=False)


@lru_cache
def get_engine() -> Engine:
    """The process-wide engine."""
    settings = get_settings()
    return make_engine(
        settings.database_url, settings.database_connect_timeout_s, settings.database_pool_size
    )


@lru_cache
def get_session_factory() -> sessionmaker[Session]:
    """The process-wide session factory."""
    return make_session_factory(get_engine())


@contextmanager
def session_scope(factory: sessionmaker[Session] | None = None) -> Iterator[Session]:
    """A session that is closed on exit (callers commit explicitly)."""
    session = (factory or get_session_factory())()
    try:
        yield session
    finally:
        session.close()
