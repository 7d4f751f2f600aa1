"""Queue statistics for GET /v1/queue and /metrics, computed from the job rows."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from piano_ai.db.jobs import db_in
from piano_ai.db.models import Job, JobStatus, WorkerHeartbeat, utcnow

WINDOWS_S = (300, 3600, 86400)  # recent windows reported, seconds
WORKER_LIVE_S = 35.0  # a worker silent this long is not live (settings.worker_live_s: 3 heartbeats + 5 s)


@dataclass
class WindowStats:
    window_s: int
    finished: int  # jobs that succeeded in the window
    failed: int
    mean_latency_s: float | None  # mean created -> finished of the succeeded jobs, seconds


@dataclass
class WorkerStats:
    name: str
    last_seen: datetime
    busy: bool  # what its last heartbeat said
    current_job: str | None  # id of the job it is running, if any
    processed: int  # jobs it ran that succeeded (the last attempt's worker: a retried job counts once)
    failed: int  # jobs it ran that failed


@dataclass
class QueueStats:
    counts: dict[str, int]
    oldest_queued_age_s: float | None
    windows: list[WindowStats]
    workers: list[WorkerStats]
    errors_by_code: dict[str, int] = field(default_factory=dict)


def queue_stats(
    session: Session, now: datetime | None = None, live_within_s: float = WORKER_LIVE_S
) -> QueueStats:
    """Counts by status, oldest queued age, finished/failed/latency per window, live workers (heard from
    within ``live_within_s`` seconds on the database's clock), errors."""
    now = now or utcnow()
    counts = {status.value: 0 for status in JobStatus}
    for status, n in session.execute(select(Job.status, func.count()).group_by(Job.status)):
        counts[status] = n
    oldest = session.scalar(select(func.min(Job.created_at)).where(Job.status == JobStatus.QUEUED.value))
    since = now - timedelta(seconds=max(WINDOWS_S))
    # At most a day of finished rows; latency is computed here because date arithmetic differs per database.
    finished = session.execute(
        select(Job.status, Job.created_at, Job.finished_at).where(
            Job.finished_at >= since,
            Job.status.in_([JobStatus.SUCCEEDED.value, JobStatus.FAILED.value]),
        )
    ).all()
    rows: list[tuple[str, datetime, datetime]] = [
        (st, created, done) for st, created, done in finished if done
    ]
    windows = []
    for window_s in WINDOWS_S:
        start = now - timedelta(seconds=window_s)
        recent = [(st, created, done) for st, created, done in rows if done >= start]
        latencies = [
            (done - created).total_seconds()
            for st, created, done in recent
            if st == JobStatus.SUCCEEDED.value
        ]
        failed = sum(1 for st, _, _ in recent if st == JobStatus.FAILED.value)
        mean = sum(latencies) / len(latencies) if latencies else None
        windows.append(WindowStats(window_s, len(latencies), failed, mean))
    errors = session.execute(
        select(Job.error_code, func.count()).where(Job.error_code.is_not(None)).group_by(Job.error_code)
    ).all()
    return QueueStats(
        counts=counts,
        oldest_queued_age_s=(now - oldest).total_seconds() if oldest else None,
        windows=windows,
        workers=worker_stats(session, live_within_s),
        errors_by_code={str(code): n for code, n in errors},
    )


def worker_stats(session: Session, live_within_s: float = WORKER_LIVE_S) -> list[WorkerStats]:
    """Each live worker (heard from within ``live_within_s`` seconds, the database's clock, like the
    heartbeats), by name: its running job and its jobs' outcomes."""
    heard = session.execute(
        select(WorkerHeartbeat.name, WorkerHeartbeat.last_seen, WorkerHeartbeat.busy)
        .where(WorkerHeartbeat.last_seen >= db_in(session, -live_within_s))
        .order_by(WorkerHeartbeat.name)
    ).all()
    if not heard:
        return []
    names = [name for name, _, _ in heard]
    outcomes: dict[tuple[str | None, str], int] = {
        (worker, status): n
        for worker, status, n in session.execute(
            select(Job.worker, Job.status, func.count())
            .where(Job.worker.in_(names))
            .group_by(Job.worker, Job.status)
        )
    }
    running = dict(
        session.execute(
            select(Job.worker, Job.id).where(Job.worker.in_(names), Job.status == JobStatus.RUNNING.value)
        ).all()
    )
    return [
        WorkerStats(
            name=name,
            last_seen=seen,
            busy=bool(busy),
            current_job=running.get(name),
            processed=outcomes.get((name, JobStatus.SUCCEEDED.value), 0),
            failed=outcomes.get((name, JobStatus.FAILED.value), 0),
        )
        for name, seen, busy in heard
    ]
