"""Tables: the job row is the source of truth for a conversion; workers leave a heartbeat row; API keys
own jobs.

Changes to these classes need a migration in piano_ai/db/migrations/versions.
"""

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class JobStatus(enum.StrEnum):
    """Where a job is. queued -> running -> succeeded | failed; queued | running -> canceled."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)
TERMINAL_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Job(Base):
    """One conversion request; API and workers change ``status`` only by conditional updates."""

    __tablename__ = "jobs"
    # An Idempotency-Key is one client's: two keys may use the same value for different uploads. Jobs without
    # an owner (auth off) share one space, kept unique by a partial index (migration 0007).
    __table_args__ = (
        UniqueConstraint("owner_key_id", "idempotency_key", name="uq_jobs_owner_idempotency"),
        Index(
            "uq_jobs_unowned_idempotency",
            "idempotency_key",
            unique=True,
            postgresql_where=text("owner_key_id IS NULL"),
            sqlite_where=text("owner_key_id IS NULL"),
        ),
        # A submit counts its key's queued and running jobs from this index alone (migration 0008).
        Index("ix_jobs_owner_status", "owner_key_id", "status"),
    )

    # seq orders jobs (newest first) and backs the list cursor; id is what clients see.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True, index=True)
    status: Mapped[str] = mapped_column(String(16), index=True, default=JobStatus.QUEUED.value)
    stage: Mapped[str | None] = mapped_column(String(32))
    progress: Mapped[float] = mapped_column(Float, default=0.0)  # 0..1 over the whole job
    filename: Mapped[str] = mapped_column(String(255))  # the client's name for the upload: metadata only
    content_type: Mapped[str | None] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    params: Mapped[dict[str, float]] = mapped_column(JSON)  # the NoteParams knobs
    input_key: Mapped[str] = mapped_column(String(255))
    midi_key: Mapped[str | None] = mapped_column(String(255))
    notes_key: Mapped[str | None] = mapped_column(String(255))
    want_score: Mapped[bool] = mapped_column(Boolean, default=False)  # the upload's ``score`` option
    score_key: Mapped[str | None] = mapped_column(String(255))  # the MusicXML, once made
    # The score stage's results (piano_ai.score.pipeline.ScoreResult.summary: beats, downbeats, time
    # signature, tempo, key, and the note saying why no beat was found); NULL when no score was asked for.
    score: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Each claim by a worker increments attempts; a run's later updates require attempts to still match,
    # so an older, superseded run (a redelivered message) can never overwrite a newer one.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # ``attempts`` when the job was last retried (POST .../retry), 0 if never: the runs since then are
    # ``attempts - retried_at_attempt``, and only those count toward the limit on runs that kill their worker.
    # ``attempts`` itself never goes back, so each run's number stays unique and keeps fencing older runs.
    retried_at_attempt: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(255))
    error_code: Mapped[str | None] = mapped_column(String(64), index=True)
    error_message: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    # The API key that submitted the job; only it (and admin keys) see the job. NULL: made before keys
    # existed, or with PIANO_AI_AUTH=off (admin keys see those).
    owner_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"), index=True)
    request_hash: Mapped[str | None] = mapped_column(String(64))  # sha256 of upload + params
    audio_duration_s: Mapped[float | None] = mapped_column(Float)
    note_count: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the job's message was last sent (the database's clock; a submit records it in its insert); NULL
    # while none was (a retry's send failed). The reconciler resends a job queued long after this with no
    # live message.
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A running row's lease, on the database's clock: its worker process renews it with every progress write
    # and heartbeat; once it lapses the reconciler hands the job to another worker. NULL unless running.
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiKey(Base):
    """A client's API key: only a hash of the secret is kept, and a short plain prefix to find the row."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)  # the key's first characters, shown in lists
    secret_hash: Mapped[str] = mapped_column(String(64))  # sha256 hex of the whole key
    admin: Mapped[bool] = mapped_column(Boolean, default=False)  # sees and manages every job
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # to the minute
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # set: the key no longer works


class WorkerHeartbeat(Base):
    """The last time each worker process said it was alive."""

    __tablename__ = "worker_heartbeats"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    busy: Mapped[bool] = mapped_column(Boolean, default=False)
