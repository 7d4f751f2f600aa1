"""The reconciler: one sweep, run by every worker process's heartbeat thread, so no job stays non-terminal.

Each sweep, in order:
1. renews the lease of the job this process is running (progress writes renew it too);
2. leases: a running job whose lease lapsed on the database's clock (its process was killed, ran out of
   memory, lost its machine) goes back to ``queued`` and is sent again, or fails with ``worker_lost`` once
   ``MAX_ATTEMPTS`` runs since its last retry have died (``PIANO_AI_REQUEUE_ORPHANS``,
   ``PIANO_AI_JOB_LEASE_S``);
3. unsent: a queued job with no send recorded (a retry while the broker was down) is sent
   (``PIANO_AI_RESEND_UNSENT_AFTER_S``);
4. lost messages: a job queued for ``PIANO_AI_RESEND_LOST_AFTER_S`` since its last send whose message the
   broker no longer holds, neither waiting in the queue nor delivered and unacknowledged (Redis restarted
   without persistence, FLUSHDB, a failover, or the API died between its insert, which records the send,
   and the send), is sent again and its send time renewed.

Sending twice is safe: a run claims a job by a conditional update and the attempt number fences older
runs, so a duplicate message costs at most a second run, never a wrong result. Every change of a row is
conditional, so any number of workers may sweep at once.
"""

import base64
import json
import logging
from pathlib import Path
from typing import Any

from celery import Celery
from sqlalchemy.orm import Session

from piano_ai.db import jobs as job_store
from piano_ai.db import recovery
from piano_ai.settings import Settings
from piano_ai.storage import job_keys
from piano_worker import runtime
from piano_worker.pipeline import MAX_ATTEMPTS
from piano_worker.tasks import TRANSCRIBE_TASK

logger = logging.getLogger(__name__)


def sweep(app: Celery, session: Session, settings: Settings) -> None:
    """One pass of the reconciler (see the module docstring)."""
    renew_own_lease(session, settings.effective_job_lease_s)
    if settings.requeue_orphans:
        release_stale_runs(app, session, settings.queue)
    if settings.resend_unsent_after_s > 0:
        resend_unsent(app, session, settings.resend_unsent_after_s, settings.queue)
    if settings.resend_lost_after_s > 0:
        resend_lost(app, session, settings.resend_lost_after_s, settings.queue)


def renew_own_lease(session: Session, lease_s: float) -> None:
    """Extend the lease of the run in progress in this process, if any."""
    run = runtime.current_run()
    if run is not None and run[1].attempt is not None:
        job_store.renew_lease(session, run[0], run[1].attempt, lease_s)


def release_stale_runs(app: Celery, session: Session, queue: str) -> None:
    """Requeue and send the jobs whose lease lapsed; fail those whose runs since their last retry died
    ``MAX_ATTEMPTS`` times."""
    requeued, failed = recovery.release_stale(session, MAX_ATTEMPTS)
    for job_id in failed:
        logger.error(
            "job %s: its runs stopped their worker %d times; failed (worker_lost)", job_id, MAX_ATTEMPTS
        )
        keys = job_keys(job_id)
        for key in keys.results:  # whatever the last run half wrote
            runtime.context().storage.delete(key)
    for job_id in requeued:
        # If this send fails, the job is queued without a message: the lost-message sweep sends it.
        app.send_task(TRANSCRIBE_TASK, args=[job_id], queue=queue)
        logger.warning("job %s: its worker stopped renewing the lease; queued and sent again", job_id)


def resend_unsent(app: Celery, session: Session, older_than_s: float, queue: str) -> None:
    """Send the queued jobs with no send recorded (a retry whose send failed)."""
    for job_id in job_store.claim_unsent(session, older_than_s):
        try:
            app.send_task(TRANSCRIBE_TASK, args=[job_id], queue=queue)
            logger.warning("job %s: its message never reached the queue; sent now", job_id)
        except Exception:
            job_store.unmark_enqueued(session, job_id)
            raise


def resend_lost(app: Celery, session: Session, older_than_s: float, queue: str) -> list[str]:
    """Send again the jobs queued for ``older_than_s`` since their last send that have no live message;
    returns their ids. Nothing is sent when the broker cannot be read."""
    candidates = recovery.queued_unsent_since(session, older_than_s)
    if not candidates:
        return []
    live = live_job_ids(app, queue)  # read after the rows: a job taken meanwhile is no longer queued
    if live is None:
        return []
    sent = []
    for job_id, sent_at in candidates:
        if job_id in live or not recovery.mark_resent(session, job_id, sent_at):
            continue
        # If this send fails, the renewed send time brings the job back in one more threshold.
        app.send_task(TRANSCRIBE_TASK, args=[job_id], queue=queue)
        logger.warning(
            "job %s: queued since %s and the broker holds no message for it; sent again", job_id, sent_at
        )
        sent.append(job_id)
    return sent


def live_job_ids(app: Celery, queue: str) -> set[str] | None:
    """Ids of the jobs with a message in the broker: waiting in ``queue`` or delivered to a worker and not
    acknowledged (Redis), or waiting in the queue folder (filesystem). None when it cannot tell."""
    try:
        with app.connection_for_read() as connection:
            channel = connection.default_channel
            kind = connection.transport.driver_type
            if kind == "redis":
                payloads = _redis_payloads(channel, queue)
            elif kind == "filesystem":
                payloads = _folder_payloads(Path(channel.data_folder_in), queue)
            else:
                return None
    except Exception:
        logger.exception("could not read the broker's messages; resending nothing this time")
        return None
    return {job_id for payload in payloads if (job_id := _job_id(payload)) is not None}


def _redis_payloads(channel: Any, queue: str) -> list[Any]:
    # The waiting lists first, then the unacknowledged hash: a message moves from the first to the second.
    client = channel.client
    waiting = [
        json.loads(raw)
        for priority in channel.priority_steps
        for raw in client.lrange(channel._q_for_pri(queue, priority), 0, -1)
    ]
    unacked = [json.loads(raw)[0] for raw in client.hvals(channel.unacked_key)]  # [payload, exchange, key]
    return waiting + unacked


def _folder_payloads(folder: Path, queue: str) -> list[Any]:
    payloads = []
    for path in folder.glob(f"*.{queue}.msg"):
        try:
            payloads.append(json.loads(path.read_bytes()))
        except (FileNotFoundError, ValueError):  # taken by a worker meanwhile, or being written
            continue
    return payloads


def _job_id(payload: Any) -> str | None:
    """The job id of a transcription message (Celery's message protocol 2), else None."""
    try:
        if payload["headers"]["task"] != TRANSCRIBE_TASK:
            return None
        body = payload["body"]
        if payload["properties"].get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args = json.loads(body)[0]
        return str(args[0])
    except (KeyError, IndexError, TypeError, ValueError):
        return None
