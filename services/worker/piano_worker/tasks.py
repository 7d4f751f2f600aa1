"""The one Celery task: transcribe a job by id. Thin: the work is in piano_worker.pipeline.

Failure policy: bad input (a PianoAIError such as invalid_audio) fails the job at once and is never
retried; transient storage/database errors hand the job back to the queue and retry with backoff (a
database still failing after the retries leaves the job to the reconciler, never fails it); a time limit
fails the job with ``timeout``; anything else fails it with ``internal_error``.
"""

import logging
import time
from typing import Any

from celery import Task
from celery.exceptions import Retry, SoftTimeLimitExceeded
from sqlalchemy.exc import DBAPIError, OperationalError

from piano_ai.db import jobs as job_store
from piano_ai.errors import PianoAIError
from piano_ai.storage import StorageError, job_keys
from piano_worker import runtime
from piano_worker.celery_app import app
from piano_worker.pipeline import RunState, RunSuperseded, run_job

logger = logging.getLogger(__name__)

TRANSCRIBE_TASK = "piano_ai.transcribe_job"  # the API sends this name (piano_api.queue)
MAX_RETRIES = 5
TRANSIENT_ERRORS = (StorageError, OperationalError, ConnectionError, TimeoutError)


@app.task(
    name=TRANSCRIBE_TASK,
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=MAX_RETRIES,
)
def transcribe_job(self: Task, job_id: str) -> str:
    """Transcribe job ``job_id`` (re-read from the database); returns the outcome."""
    start = time.perf_counter()
    outcome = _run(self, job_id)
    logger.info("job %s: %s in %.2f s", job_id, outcome, time.perf_counter() - start)
    return outcome


def _run(self: Task, job_id: str) -> str:
    """run_job with the failure policy applied; returns the outcome."""
    ctx = runtime.context()
    state = RunState()
    runtime.set_current_run(job_id, state)  # the heartbeat thread renews this run's lease
    try:
        return run_job(job_id, ctx, state)
    except RunSuperseded as exc:
        logger.info("%s; stopping", exc)
        return "superseded"
    except PianoAIError as exc:
        logger.warning("job %s: failed: %s: %s", job_id, exc.code, exc)
        _fail(job_id, state.attempt, exc.code, str(exc))
        return "failed"
    except SoftTimeLimitExceeded:
        limit = runtime.settings().task_time_limit_s
        _fail(
            job_id,
            state.attempt,
            "timeout",
            f"the conversion took longer than {limit} s; try a shorter recording",
        )
        return "failed"
    except TRANSIENT_ERRORS as exc:
        return _retry_or_fail(self, job_id, state.attempt, exc)
    except DBAPIError as exc:
        if exc.connection_invalidated:  # the connection dropped: the database may be back on retry
            return _retry_or_fail(self, job_id, state.attempt, exc)
        logger.exception("job %s: database error", job_id)
        _fail(job_id, state.attempt, "internal_error", f"database error: {type(exc).__name__}")
        return "failed"
    except Retry:
        raise
    except Exception as exc:
        logger.exception("job %s: unexpected error", job_id)
        _fail(job_id, state.attempt, "internal_error", f"unexpected error: {type(exc).__name__}: {exc}")
        return "failed"
    finally:
        runtime.set_current_run(None)


def _fail(job_id: str, attempt: int | None, code: str, message: str) -> None:
    """Fail the job if this run (``attempt``) still owns it, and drop any result it half wrote."""
    if attempt is None:
        return
    ctx = runtime.context()
    with ctx.sessions() as session:
        if not job_store.fail(session, job_id, attempt, code, message):
            return
    keys = job_keys(job_id)
    for key in (keys.midi, keys.notes, keys.score):
        ctx.storage.delete(key)


def _retry_or_fail(task: Task, job_id: str, attempt: int | None, exc: Exception) -> Any:
    retries = task.request.retries
    if retries >= MAX_RETRIES and isinstance(exc, DBAPIError):
        # The job store itself kept failing: an outage, not a bad job. Leave the job to the reconciler
        # (piano_worker.reconciler), which sends it again once the database is back: a lapsed lease if it
        # is still running, a queued job with no message otherwise.
        logger.error(
            "job %s: the database kept failing after %d retries; left to the reconciler", job_id, retries
        )
        _requeue(job_id, attempt)
        return "requeued"
    if retries >= MAX_RETRIES:
        logger.error("job %s: giving up after %d retries: %s", job_id, retries, exc)
        _fail(job_id, attempt, "retries_exhausted", f"storage kept failing: {exc}")
        return "failed"
    countdown = min(2 ** (retries + 1), 60)
    logger.warning("job %s: transient error (%s); retry %d in %d s", job_id, exc, retries + 1, countdown)
    _requeue(job_id, attempt)
    raise task.retry(exc=exc, countdown=countdown)


def _requeue(job_id: str, attempt: int | None) -> None:
    """Mark the run's job queued again, if the database lets us."""
    try:
        if attempt is not None:
            with runtime.context().sessions() as session:
                job_store.requeue(session, job_id, attempt)
    except Exception:  # the database may be the thing that is down; the retry claims the job anyway
        logger.warning("job %s: could not mark the job queued again", job_id)
