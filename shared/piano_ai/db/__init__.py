"""The job store: SQLAlchemy 2 models, sessions, conditional state changes, Alembic migrations.

Postgres in production and in the tests; SQLite only for the embedded default (`make run`).
"""

from piano_ai.db.models import ACTIVE_STATUSES, TERMINAL_STATUSES, Job, JobStatus, WorkerHeartbeat
from piano_ai.db.session import get_engine, get_session_factory, make_engine, make_session_factory

__all__ = [
    "ACTIVE_STATUSES",
    "TERMINAL_STATUSES",
    "Job",
    "JobStatus",
    "WorkerHeartbeat",
    "get_engine",
    "get_session_factory",
    "make_engine",
    "make_session_factory",
]
