"""Dependencies named once and used in handler signatures.

All are ``async``: FastAPI runs a plain ``def`` dependency in its thread pool, a hop between threads
that costs more than most dependencies (a submit made four: the session's start and end, the storage, the
handler). What may block (connecting to the database, making a cloud storage client) happens in the
handler's thread or, once, in the pool.
"""

from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from piano_ai.db.session import get_session_factory
from piano_ai.settings import Settings, get_settings
from piano_ai.storage import Storage, get_storage
from piano_api.limits import Limiter
from piano_api.queue import enqueue_transcription


async def get_session() -> AsyncIterator[Session]:
    """One database session per request. It connects on its first statement, in the handler's thread;
    closing it goes to the thread pool only while it still holds a connection (a rollback is I/O)."""
    session = get_session_factory()()
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


async def get_app_storage() -> Storage:
    """The process's storage backend, made on the first request in the thread pool (a cloud client may
    read credentials)."""
    if get_storage.cache_info().currsize:
        return get_storage()
    return await run_in_threadpool(get_storage)


async def get_app_settings() -> Settings:
    """The process's settings (read once)."""
    return get_settings()


async def get_enqueue() -> Callable[[str], None]:
    """The function that hands a job id to the workers."""
    return enqueue_transcription


async def get_limiter(request: Request) -> Limiter:
    """The app's per-key limits (its counters live as long as the app)."""
    return request.app.state.limiter  # type: ignore[no-any-return]


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
StorageDep = Annotated[Storage, Depends(get_app_storage)]
EnqueueDep = Annotated[Callable[[str], None], Depends(get_enqueue)]
LimiterDep = Annotated[Limiter, Depends(get_limiter)]
