"""The request's database session: it connects on its first statement, in the handler's thread, and its
close goes to the thread pool only while it still holds a connection."""

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from piano_api import deps


def _run_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, handler: Callable[[Session], None]
) -> tuple[list[str], int]:
    """Run get_session around ``handler``; returns (the functions sent to the thread pool, connections
    still checked out afterwards)."""
    engine = create_engine(f"sqlite:///{tmp_path}/deps.db")
    monkeypatch.setattr(deps, "get_session_factory", lambda: sessionmaker(engine))
    hops: list[str] = []

    async def recording_pool(fn: Callable[..., Any], *args: Any) -> Any:
        hops.append(fn.__name__)
        return fn(*args)

    monkeypatch.setattr(deps, "run_in_threadpool", recording_pool)

    async def request() -> None:
        dependency = deps.get_session()
        session = await anext(dependency)
        assert engine.pool.checkedout() == 0  # nothing connects before the handler's first statement
        handler(session)
        with pytest.raises(StopAsyncIteration):
            await anext(dependency)

    asyncio.run(request())
    return hops, engine.pool.checkedout()


def test_a_session_that_committed_closes_on_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def write(session: Session) -> None:
        session.execute(text("CREATE TABLE t (x INTEGER)"))
        session.commit()

    assert _run_request(tmp_path, monkeypatch, write) == ([], 0)


def test_a_session_left_in_a_transaction_is_closed_in_the_thread_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def read(session: Session) -> None:
        assert session.execute(text("SELECT 1")).scalar() == 1

    assert _run_request(tmp_path, monkeypatch, read) == (["close"], 0)
