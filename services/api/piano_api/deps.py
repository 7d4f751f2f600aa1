"""Dependencies named once and used in handler signatures."""

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from piano_ai.db.session import get_session_factory
from piano_ai.settings import Settings, get_settings
from piano_ai.storage import Storage, get_storage
from piano_api.limits import Limiter
from piano_api.queue import enqueue_transcription


def get_session() -> Iterator[Session]:
    """One database session per request."""
    session = get_session_factory()()
    try:
        yield session
    finally:
        session.close()


def get_enqueue() -> Callable[[str], None]:
    """The function that hands a job id to the workers."""
    return enqueue_transcription


def get_limiter(request: Request) -> Limiter:
    """The app's per-key limits (its counters live as long as the app)."""
    return request.app.state.limiter  # type: ignore[no-any-return]


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
StorageDep = Annotated[Storage, Depends(get_storage)]
EnqueueDep = Annotated[Callable[[str], None], Depends(get_enqueue)]
LimiterDep = Annotated[Limiter, Depends(get_limiter)]
