"""Job-row operations. Every status change is one conditional UPDATE (check the row count), never
select-then-update: SQLite ignores FOR UPDATE, and a re-delivered task must not corrupt a finished job.

A worker's run is fenced by ``attempt`` (the value of ``attempts`` its claim produced): progress and
results of a run are written only while the row is still ``running`` with that attempt. A running row holds
a lease (``lease_expires_at``) that its worker process renews; leases and send times are on the database's
clock (Postgres ``now()``), so a worker whose clock is off can neither keep a dead run alive nor cut a live
one short.
"""

from collections.abc import Callable
from datetime import timedelta
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Interval, Table, Update, bindparam, delete, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ClauseElement

from piano_ai.db.models import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    Job,
    JobStatus,
    UTCDateTime,
    WorkerHeartbeat,
    utcnow,
)

RUNNING = JobStatus.RUNNING.value
QUEUED = JobStatus.QUEUED.value
DEFAULT_LEASE_S = 35.0  # a running row's lease when the caller names none, seconds


def db_now(session: Session) -> Any:
    """Now on the database's clock: Postgres ``now()`` (the transaction's start) as a SQL expression.
    SQLite (the embedded default, one host) uses this process's clock."""
    return func.now() if _is_postgres(session) else utcnow()


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def db_in(session: Session, seconds: float) -> Any:
    """``seconds`` from now on the database's clock (negative: ago)."""
    return db_now(session) + timedelta(seconds=seconds)


# Every column's plain default (status queued, progress, attempts, want_score, ...): a new row's values.
_ROW_DEFAULTS = {
    c.key: c.default.arg for c in Job.__table__.columns if c.default is not None and c.default.is_scalar
}


def create_job(session: Session, **fields: Any) -> Job:
    """Insert a queued job and commit; IntegrityError when its idempotency key is taken. A field may be a
    SQL expression (``db_now`` on Postgres): such a row is inserted with RETURNING, so reading the field
    costs no second query. That insert is a Core one, its plain values sent as parameters, and the job
    returned is built from them, not loaded into the session (0.28-0.29 ms of CPU against 0.41-0.44 for the
    ORM's insert ... returning(Job) or a Core insert with every value in the statement)."""
    now = utcnow()
    values = {**_ROW_DEFAULTS, "created_at": now, "updated_at": now, **fields}
    computed = {name: value for name, value in values.items() if isinstance(value, ClauseElement)}
    try:
        if computed:
            table = cast(Table, Job.__table__)
            returning = [table.c.seq, *(table.c[name] for name in computed)]
            plain = {name: value for name, value in values.items() if name not in computed}
            statement = insert(table).values(**computed).returning(*returning)
            row = session.connection().execute(statement, plain).one()
            job = Job(**plain, **row._asdict())
        else:
            job = Job(**values)
            session.add(job)
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


def get_job_by_idempotency_key(session: Session, key: str, owner_key_id: int | None = None) -> Job | None:
    """The job API key ``owner_key_id`` first created with this Idempotency-Key, or None."""
    owner = Job.owner_key_id.is_(None) if owner_key_id is None else Job.owner_key_id == owner_key_id
    return session.scalars(select(Job).where(Job.idempotency_key == key, owner)).first()


def count_active(session: Session, owner_key_id: int | None) -> int:
    """Queued and running jobs of API key ``owner_key_id``."""
    if owner_key_id is None:
        return int(session.connection().execute(_COUNT_ACTIVE_UNOWNED).scalar() or 0)
    return int(session.connection().execute(_COUNT_ACTIVE, {"owner": owner_key_id}).scalar() or 0)


# Built once, run through the connection: a submit runs one of them (0.16 ms of CPU with Postgres
# against 0.30 built each time and run through the ORM).
_COUNT_ACTIVE_OF = (
    select(func.count()).select_from(Job).where(Job.status.in_([s.value for s in ACTIVE_STATUSES]))
)
_COUNT_ACTIVE = _COUNT_ACTIVE_OF.where(Job.owner_key_id == bindparam("owner"))
_COUNT_ACTIVE_UNOWNED = _COUNT_ACTIVE_OF.where(Job.owner_key_id.is_(None))


def list_jobs(
    session: Session,
    status: str | None = None,
    limit: int = 50,
    before_seq: int | None = None,
    name_contains: str | None = None,
    owner_key_id: int | None = None,
) -> tuple[list[Job], int | None]:
    """Newest first; returns (jobs, seq to pass as ``before_seq`` for the next page or None).

    ``name_contains``: only jobs whose file name contains this text, ignoring case (% and _ are literal).
    ``owner_key_id``: only the jobs of this API key (None: everyone's).
    """
    query = select(Job).order_by(Job.seq.desc()).limit(limit + 1)
    if owner_key_id is not None:
        query = query.where(Job.owner_key_id == owner_key_id)
    if status:
        query = query.where(Job.status == status)
    if name_contains:
        literal = name_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Job.filename.ilike(f"%{literal}%", escape="\\"))
    if before_seq is not None:
        query = query.where(Job.seq < before_seq)
    jobs = list(session.scalars(query))
    if len(jobs) > limit:
        return jobs[:limit], jobs[limit - 1].seq
    return jobs, None


def skip_flush_wait(session: Session) -> None:
    """Let this transaction's commit return before Postgres flushes it to disk (a crash may lose it)."""
    if _is_postgres(session):
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))


def update_if(session: Session, job_id: str, where: list[Any], durable: bool = True, **values: Any) -> bool:
    """Set ``values`` on the job if ``where`` holds, and commit; True when the row changed."""
    if not durable:  # progress may be lost in a database crash (the next report rewrites it)
        skip_flush_wait(session)
    result = session.execute(
        update(Job).where(Job.id == job_id, *where).values(updated_at=utcnow(), **values)
    )
    session.commit()
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def claim(session: Session, job_id: str, worker: str, lease_s: float = DEFAULT_LEASE_S) -> int | None:
    """Mark the job running for this run, leased for ``lease_s`` seconds; returns the run's attempt number,
    or None if the job is already terminal (succeeded, failed, canceled or deleted). A job left
    ``running`` by a dead worker is claimed again, and the higher attempt fences off the old run."""
    job = claim_row(session, job_id, worker, lease_s)
    return job.attempts if job is not None else None


def claim_row(
    session: Session, job_id: str, worker: str, lease_s: float = DEFAULT_LEASE_S, stage: str | None = None
) -> Job | None:
    """``claim`` that returns the claimed row itself (its ``attempts`` is the run's attempt), in one round
    trip, with ``stage`` recorded as the first progress report; None if the job is terminal."""
    now = utcnow()
    postgres = _is_postgres(session)
    params = {
        "job_id": job_id,
        "worker": worker,
        "stage": stage,
        "now": now,
        # the lease on the database's clock (db_in): an interval added to Postgres's now(), else a time
        "lease": timedelta(seconds=lease_s) if postgres else now + timedelta(seconds=lease_s),
    }
    job = session.scalars(_claim_statement(postgres), params).one_or_none()
    session.commit()
    return job


@lru_cache(maxsize=2)
def _claim_statement(postgres: bool) -> Update:
    """claim_row's UPDATE ... RETURNING, built once with its values as parameters. Built at every call, the
    claim and the result write took 2.0-2.1 ms of CPU a job on Postgres; built once, 1.1-1.2 ms
    (scripts/bench/claim_cycle.py; docs/benchmarks.md, "Job service")."""
    lease = (
        func.now() + bindparam("lease", type_=Interval())
        if postgres
        else bindparam("lease", type_=UTCDateTime())
    )
    now = bindparam("now", type_=UTCDateTime())
    return (
        update(Job)
        .where(Job.id == bindparam("job_id"), Job.status.in_([s.value for s in ACTIVE_STATUSES]))
        .values(
            status=RUNNING,
            attempts=Job.attempts + 1,
            worker=bindparam("worker"),
            stage=bindparam("stage"),
            progress=0.0,
            started_at=now,
            updated_at=now,
            lease_expires_at=lease,
        )
        .returning(Job)
        # The row comes back by RETURNING; matching the session's other objects against the WHERE clause
        # ("evaluate", the default) was a third of the claim's CPU.
        .execution_options(populate_existing=True, synchronize_session=False)
    )


def runs_since_retry(job: Job) -> int:
    """How many runs the job had since its last retry (all of them if never retried): what the limit on
    runs that kill their worker counts. Each run keeps its own, ever-growing ``attempts`` number."""
    return job.attempts - job.retried_at_attempt


def current_run(attempt: Any) -> list[Any]:
    """The condition that the job is still running under run ``attempt`` (a number or a bound parameter)."""
    return [Job.status == RUNNING, Job.attempts == attempt]


def report_progress(
    session: Session, job_id: str, attempt: int, stage: str, progress: float, lease_s: float = DEFAULT_LEASE_S
) -> bool:
    """Record stage and overall progress and renew the run's lease; False when this run no longer owns
    the job (canceled, superseded by a newer attempt, deleted): the run should stop."""
    return update_if(
        session,
        job_id,
        current_run(attempt),
        durable=False,
        stage=stage,
        progress=progress,
        lease_expires_at=db_in(session, lease_s),
    )


def renew_lease(session: Session, job_id: str, attempt: int, lease_s: float = DEFAULT_LEASE_S) -> bool:
    """Extend the run's lease to ``lease_s`` seconds from now (its process is alive, whatever the stage)."""
    return update_if(
        session, job_id, current_run(attempt), durable=False, lease_expires_at=db_in(session, lease_s)
    )


def succeed(session: Session, job_id: str, attempt: int, **results: Any) -> bool:
    """Mark the run's job succeeded with ``results`` (midi_key, notes_key, note_count, audio_duration_s)."""
    params = {"job_id": job_id, "attempt": attempt, "now": utcnow()}
    params.update({f"result_{name}": value for name, value in results.items()})
    changed = session.execute(_succeed_statement(tuple(sorted(results))), params)
    session.commit()
    return bool(changed.rowcount == 1)  # type: ignore[attr-defined]


@lru_cache(maxsize=8)
def _succeed_statement(names: tuple[str, ...]) -> Update:
    """succeed's UPDATE for results ``names``, built once with its values as parameters (as
    _claim_statement). The session's copy of the row is left as it was: a run reads nothing of its job
    after succeeding."""
    now = bindparam("now", type_=UTCDateTime())
    return (
        update(Job)
        .where(Job.id == bindparam("job_id"), *current_run(bindparam("attempt")))
        .values(
            status=JobStatus.SUCCEEDED.value,
            stage=None,
            progress=1.0,
            finished_at=now,
            updated_at=now,
            error_code=None,
            error_message=None,
            **{name: bindparam(f"result_{name}", type_=Job.__table__.c[name].type) for name in names},
        )
        .execution_options(synchronize_session=False)
    )


def save_params(session: Session, job_id: str, params: dict[str, float], note_count: int) -> bool:
    """Record new note parameters (and the note count they give) on a succeeded job; False otherwise."""
    return update_if(
        session, job_id, [Job.status == JobStatus.SUCCEEDED.value], params=params, note_count=note_count
    )


def fail(session: Session, job_id: str, attempt: int | None, code: str, message: str) -> bool:
    """Mark the job failed. ``attempt`` None fails a job no worker has claimed (it must be queued)."""
    where = current_run(attempt) if attempt is not None else [Job.status == JobStatus.QUEUED.value]
    return update_if(
        session,
        job_id,
        where,
        status=JobStatus.FAILED.value,
        finished_at=utcnow(),
        error_code=code,
        error_message=message[:2000],
    )


def requeue(session: Session, job_id: str, attempt: int) -> bool:
    """Hand a running job back to the queue (a transient error; the task retries later, which sends it)."""
    return update_if(
        session,
        job_id,
        current_run(attempt),
        status=QUEUED,
        stage=None,
        lease_expires_at=None,
        enqueued_at=db_now(session),
    )


def cancel(session: Session, job_id: str) -> bool:
    """Cancel a queued or running job; a running worker stops at its next stage boundary."""
    return update_if(
        session,
        job_id,
        [Job.status.in_([s.value for s in ACTIVE_STATUSES])],
        status=JobStatus.CANCELED.value,
        canceled_at=utcnow(),
    )


def retry(session: Session, job_id: str) -> bool:
    """Queue a failed or canceled job again, for a new attempt on the same upload (the next claim raises
    ``attempts``); its error and times of the last run are cleared, and ``retried_at_attempt`` records
    where the count of runs toward the limit starts again (``runs_since_retry``). False when it is in
    another status.

    Like ``claim_unsent``, the row is marked sent here, so a sweep never sends it too; the caller sends it
    and calls ``unmark_enqueued`` if that fails (the next sweep sends it then)."""
    return update_if(
        session,
        job_id,
        [Job.status.in_([JobStatus.FAILED.value, JobStatus.CANCELED.value])],
        status=QUEUED,
        stage=None,
        progress=0.0,
        retried_at_attempt=Job.attempts,
        error_code=None,
        error_message=None,
        started_at=None,
        finished_at=None,
        canceled_at=None,
        lease_expires_at=None,
        enqueued_at=db_now(session),
    )


def delete_job(session: Session, job_id: str, before_commit: Callable[[], None] | None = None) -> bool:
    """Delete a terminal job's row; False when it is missing or still active.

    ``before_commit`` (removing the job's files) runs while the deleted row is still locked: if it raises,
    the row is kept and the error propagates, so a failed file store never leaves a job without its files.
    """
    result = session.execute(
        delete(Job).where(Job.id == job_id, Job.status.in_([s.value for s in TERMINAL_STATUSES]))
    )
    deleted = bool(result.rowcount == 1)  # type: ignore[attr-defined]
    try:
        if deleted and before_commit is not None:
            before_commit()
    except BaseException:
        session.rollback()
        raise
    session.commit()
    return deleted


def heartbeat(session: Session, name: str, busy: bool = False) -> None:
    """Record that worker ``name`` is alive now (the database's clock, so a worker whose clock is off is
    neither listed long after it died nor dropped while alive)."""
    now = db_now(session)
    result = session.execute(
        update(WorkerHeartbeat).where(WorkerHeartbeat.name == name).values(last_seen=now, busy=busy)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        session.add(WorkerHeartbeat(name=name, last_seen=now, busy=busy))
    try:
        session.commit()
    except IntegrityError:  # another process inserted it first: that is a heartbeat too
        session.rollback()


def forget_worker(session: Session, name: str) -> None:
    """Remove worker ``name``'s heartbeat row (it is stopping): it is no longer counted as live."""
    session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.name == name))
    session.commit()


def mark_enqueued(session: Session, job_id: str) -> bool:
    """Record a send of a job with none recorded (the database's clock); False when one was recorded
    already. Not flushed to disk before it returns: a database crash may lose the mark, and then a sweep
    sends the job again (harmless)."""
    return update_if(session, job_id, [Job.enqueued_at.is_(None)], durable=False, enqueued_at=db_now(session))


def claim_unsent(session: Session, older_than_s: float) -> list[str]:
    """Ids of queued jobs created over ``older_than_s`` seconds ago with no send recorded (a retry whose send
    failed; rows from before a submit's insert recorded the send). Each is marked enqueued by a
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
    return update_if(session, job_id, [Job.status == JobStatus.QUEUED.value], enqueued_at=None)
