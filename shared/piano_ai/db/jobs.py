"""Job-row operations. Every status change is one conditional UPDATE (check the row count), never
select-then-update: SQLite ignores FOR UPDATE, and a re-delivered task must not corrupt a finished job.

A worker's run is fenced by ``attempt`` (the value of ``attempts`` its claim produced): progress and
results of a run are written only while the row is still ``running`` with that attempt.
"""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from piano_ai.db.models import ACTIVE_STATUSES, TERMINAL_STATUSES, Job, JobStatus, WorkerHeartbeat, utcnow

RUNNING = JobStatus.RUNNING.value


def create_job(session: Session, **fields: Any) -> Job:
    """Insert a queued job and commit; IntegrityError when its idempotency key is taken."""
    now = utcnow()
    job = Job(
        status=JobStatus.QUEUED.value, progress=0.0, attempts=0, created_at=now, updated_at=now, **fields
    )
    session.add(job)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise
    return job


def get_job(session: Session, job_id: str) -> Job | None:
    """The job, fresh from the database, or None."""
    return session.scalars(
        select(Job).where(Job.id == job_id).execution_options(populate_existing=True)
    ).first()


def get_job_by_idempotency_key(session: Session, key: str) -> Job | None:
    """The job first created with this Idempotency-Key, or None."""
    return session.scalars(select(Job).where(Job.idempotency_key == key)).first()


def list_jobs(
    session: Session, status: str | None = None, limit: int = 50, before_seq: int | None = None
) -> tuple[list[Job], int | None]:
    """Newest first; returns (jobs, seq to pass as ``before_seq`` for the next page or None)."""
    query = select(Job).order_by(Job.seq.desc()).limit(limit + 1)
    if status:
        query = query.where(Job.status == status)
    if before_seq is not None:
        query = query.where(Job.seq < before_seq)
    jobs = list(session.scalars(query))
    if len(jobs) > limit:
        return jobs[:limit], jobs[limit - 1].seq
    return jobs, None


def _update(session: Session, job_id: str, where: list[Any], durable: bool = True, **values: Any) -> bool:
    if not durable and session.get_bind().dialect.name == "postgresql":
        # Progress may be lost in a database crash (the next report rewrites it): skip the WAL flush wait.
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))
    result = session.execute(
        update(Job).where(Job.id == job_id, *where).values(updated_at=utcnow(), **values)
    )
    session.commit()
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def claim(session: Session, job_id: str, worker: str) -> int | None:
    """Mark the job running for this run; returns the run's attempt number, or None if the job is
    already terminal (succeeded, failed, canceled or deleted). A job left ``running`` by a dead worker
    is claimed again, and the higher attempt fences off the old run."""
    now = utcnow()
    attempt = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.in_([s.value for s in ACTIVE_STATUSES]))
        .values(
            status=RUNNING,
            attempts=Job.attempts + 1,
            worker=worker,
            stage=None,
            progress=0.0,
            started_at=now,
            updated_at=now,
        )
        .returning(Job.attempts)
    ).scalar_one_or_none()
    session.commit()
    return attempt


def _is_current_run(attempt: int) -> list[Any]:
    return [Job.status == RUNNING, Job.attempts == attempt]


def report_progress(session: Session, job_id: str, attempt: int, stage: str, progress: float) -> bool:
    """Record stage and overall progress; False when this run no longer owns the job (canceled,
    superseded by a newer attempt, deleted): the run should stop."""
    return _update(session, job_id, _is_current_run(attempt), durable=False, stage=stage, progress=progress)


def succeed(session: Session, job_id: str, attempt: int, **results: Any) -> bool:
    """Mark the run's job succeeded with ``results`` (midi_key, notes_key, note_count, audio_duration_s)."""
    return _update(
        session,
        job_id,
        _is_current_run(attempt),
        status=JobStatus.SUCCEEDED.value,
        stage=None,
        progress=1.0,
        finished_at=utcnow(),
        error_code=None,
        error_message=None,
        **results,
    )


def fail(session: Session, job_id: str, attempt: int | None, code: str, message: str) -> bool:
    """Mark the job failed. ``attempt`` None fails a job no worker has claimed (it must be queued)."""
    where = _is_current_run(attempt) if attempt is not None else [Job.status == JobStatus.QUEUED.value]
    return _update(
        session,
        job_id,
        where,
        status=JobStatus.FAILED.value,
        finished_at=utcnow(),
        error_code=code,
        error_message=message[:2000],
    )


def requeue(session: Session, job_id: str, attempt: int) -> bool:
    """Hand a running job back to the queue (a transient error; the task retries later)."""
    return _update(session, job_id, _is_current_run(attempt), status=JobStatus.QUEUED.value, stage=None)


def cancel(session: Session, job_id: str) -> bool:
    """Cancel a queued or running job; a running worker stops at its next stage boundary."""
    return _update(
        session,
        job_id,
        [Job.status.in_([s.value for s in ACTIVE_STATUSES])],
        status=JobStatus.CANCELED.value,
        canceled_at=utcnow(),
    )


def delete_job(session: Session, job_id: str) -> bool:
    """Delete a terminal job's row; False when it is missing or still active."""
    result = session.execute(
        delete(Job).where(Job.id == job_id, Job.status.in_([s.value for s in TERMINAL_STATUSES]))
    )
    session.commit()
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def stale_running(session: Session, older_than: datetime) -> list[str]:
    """Ids of running jobs whose row has not changed since ``older_than`` (their worker likely died)."""
    query = select(Job.id).where(Job.status == RUNNING, Job.updated_at < older_than)
    return list(session.scalars(query))


def heartbeat(session: Session, name: str, busy: bool = False) -> None:
    """Record that worker ``name`` is alive now."""
    now = utcnow()
    result = session.execute(
        update(WorkerHeartbeat).where(WorkerHeartbeat.name == name).values(last_seen=now, busy=busy)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        session.add(WorkerHeartbeat(name=name, last_seen=now, busy=busy))
    try:
        session.commit()
    except IntegrityError:  # another process inserted it first: that is a heartbeat too
        session.rollback()


def mark_enqueued(session: Session, job_id: str) -> bool:
    """Record that the queue accepted the job's message."""
    return _update(session, job_id, [Job.enqueued_at.is_(None)], enqueued_at=utcnow())


def claim_unsent(session: Session, older_than_s: float) -> list[str]:
    """Ids of queued jobs created over ``older_than_s`` seconds ago whose message was never accepted by
    the queue (the API died between committing the row and enqueueing it). Each is marked enqueued by a
    conditional update, so of several sweeping workers exactly one gets it; the caller sends it and calls
    ``unmark_enqueued`` if that fails.
    """
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    candidates = session.scalars(
        select(Job.id).where(
            Job.status == JobStatus.QUEUED.value, Job.enqueued_at.is_(None), Job.created_at < cutoff
        )
    ).all()
    return [job_id for job_id in candidates if mark_enqueued(session, job_id)]


def unmark_enqueued(session: Session, job_id: str) -> bool:
    """Undo ``claim_unsent`` for a job whose message could not be sent: the next sweep tries again."""
    return _update(session, job_id, [Job.status == JobStatus.QUEUED.value], enqueued_at=None)


def requeue_orphans(session: Session, dead_after_s: float) -> list[str]:
    """Put back to ``queued`` the running jobs whose worker has not sent a heartbeat for
    ``dead_after_s`` seconds; returns their ids (the caller sends them to the queue again).

    For brokers that do not redeliver unacknowledged messages themselves (the filesystem transport).
    """
    alive_since = utcnow() - timedelta(seconds=dead_after_s)
    alive = select(WorkerHeartbeat.name).where(WorkerHeartbeat.last_seen >= alive_since)
    candidates = session.execute(
        select(Job.id, Job.worker).where(
            Job.status == RUNNING, Job.updated_at < alive_since, Job.worker.not_in(alive)
        )
    ).all()
    requeued = []
    for job_id, worker in candidates:
        # Conditional on the same dead worker, so two reapers cannot both re-queue it.
        if _update(
            session,
            job_id,
            [Job.status == RUNNING, Job.worker == worker],
            status=JobStatus.QUEUED.value,
            worker=None,
            stage=None,
        ):
            requeued.append(job_id)
    return requeued
