"""Pooled Postgres connections: checked with a round trip only after sitting idle (piano_ai.db.session)."""

from collections.abc import Iterator

import pytest
from service_testkit import PG_ADMIN_URL, throwaway_postgres
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from piano_ai.db import session as db_session

pytestmark = pytest.mark.integration


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with throwaway_postgres() as url:
        yield url


def _backend_pid(engine: Engine) -> int:
    """Run a statement on a pooled connection (then back in the pool); its server process id."""
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _kill(pid: int) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    admin.dispose()


def test_a_pooled_connection_killed_while_idle_is_replaced_unseen(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_session, "PING_AFTER_IDLE_S", 0.0)  # every pooled connection counts as idle
    engine = db_session.make_engine(postgres_url, pool_size=1)
    try:
        first = _backend_pid(engine)
        _kill(first)  # a server restart, a proxy's idle timeout
        assert _backend_pid(engine) != first  # the ping found it dead: a new connection, no error
    finally:
        engine.dispose()


def test_a_connection_used_a_moment_ago_is_not_pinged(postgres_url: str) -> None:
    """The price of the saved round trip: a connection that dies within PING_AFTER_IDLE_S of its last use
    fails the next statement, once; the pool then starts afresh."""
    engine = db_session.make_engine(postgres_url, pool_size=1)
    try:
        first = _backend_pid(engine)
        _kill(first)
        with pytest.raises(OperationalError):
            _backend_pid(engine)
        assert _backend_pid(engine) != first
    finally:
        engine.dispose()
