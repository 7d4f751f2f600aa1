"""Dependencies named once and used in handler signatures.

The ones that only hand over an object made once are ``async``: FastAPI runs a plain ``def`` dependency
in its thread pool, a hop that costs more than the dependency itself. Those that may block (a database
connection, a storage client made on first use) stay plain functions.
"""

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from piano_ai.db.session import pinned_session
from piano_ai.settings import Settings, get_settings
from piano_ai.storage import Storage, get_storage
from piano_api.limits import Limiter
from piano_api.queue import enqueue_transcription


def get_session() -> Iterator[Session]:
    """One database session per request, on one pooled connection (checked out once per request)."""
    with pinned_session() as session:
        yield session


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
StorageDep = Annotated[Storage, Depends(get_storage)]
EnqueueDep = Annotated[Callable[[str], None], Depends(get_enqueue)]
LimiterDep = Annotated[Limiter, Depends(get_limiter)]
