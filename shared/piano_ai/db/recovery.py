"""What the reconciler reads and changes: runs whose lease lapsed, and queued jobs sent long ago.

Like every status change in piano_ai.db.jobs, each is one conditional UPDATE, so any number of workers may
sweep at once and a job is requeued, failed or resent by one of them only. Times are the database's.
"""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from piano_ai.db import jobs as job_store
from piano_ai.db.jobs import QUEUED, RUNNING
from piano_ai.db.models import Job, JobStatus, utcnow


def stale_running(session: Session) -> list[tuple[str, int, int]]:
    """(id, attempt, runs since the last retry) of running jobs whose lease lapsed on the database's clock:
    their worker process stopped renewing it (killed, out of memory, its machine gone). Rows without a lease
    are left alone."""
    query = select(Job.id, Job.attempts, Job.attempts - Job.retried_at_attempt).where(
        Job.status == RUNNING, Job.lease_expires_at < job_store.db_now(session)
    )
    return [(job_id, attempt, runs) for job_id, attempt, runs in session.execute(query)]


def release_stale(session: Session, max_attempts: int) -> tuple[list[str], list[str]]:
    """Put the jobs of lapsed leases back to ``queued`` (marked sent now: the caller sends them), or fail
    them with ``worker_lost`` once ``max_attempts`` runs since the job's last retry have died; returns
    (requeued ids, failed ids).

    Each change is conditional on the same attempt and a still-lapsed lease, so of several sweeping
    workers one wins, and a run that renewed its lease in between keeps the job.
    """
    requeued: list[str] = []
    failed: list[str] = []
    for job_id, attempt, runs in stale_running(session):
        fence = [*job_store.current_run(attempt), Job.lease_expires_at < job_store.db_now(session)]
        if runs >= max_attempts:
            message = f"the job stopped its worker {runs} times; the recording may be too long"
            if job_store.update_if(
                session,
                job_id,
                fence,
                status=JobStatus.FAILED.value,
                finished_at=utcnow(),
                error_code="worker_lost",
                error_message=message,
            ):
                failed.append(job_id)
        elif job_store.update_if(
            session,
            job_id,
            fence,
            status=QUEUED,
            worker=None,
            stage=None,
            lease_expires_at=None,
            enqueued_at=job_store.db_now(session),
        ):
            requeued.append(job_id)
    return requeued, failed


def queued_unsent_since(session: Session, older_than_s: float) -> list[tuple[str, datetime]]:
    """(id, enqueued_at) of queued jobs last sent over ``older_than_s`` seconds ago (database clock).

    Normally their message still waits in the queue (a backlog); the caller resends those whose message
    the broker no longer holds, with ``mark_resent``.
    """
    query = select(Job.id, Job.enqueued_at).where(
        Job.status == QUEUED, Job.enqueued_at < job_store.db_in(session, -older_than_s)
    )
    return [(job_id, sent_at) for job_id, sent_at in session.execute(query) if sent_at is not None]


def mark_resent(session: Session, job_id: str, sent_at: datetime) -> bool:
    """Record a new send of a queued job last sent at ``sent_at``; False when another worker did so first,
    or the job left ``queued`` meanwhile (then it must not be sent)."""
    where = [Job.status == QUEUED, Job.enqueued_at == sent_at]
    return job_store.update_if(session, job_id, where, enqueued_at=job_store.db_now(session))
