"""Creating a job: store the upload, insert the row, enqueue; undo what was done if a step fails.

No half-written state is left: a rejected upload stores nothing, and a failed insert or enqueue removes
the stored file (and the row).
"""

import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import asdict
from typing import BinaryIO

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from piano_ai.db import jobs as job_store
from piano_ai.db.models import Job
from piano_ai.storage import Storage, job_keys
from piano_ai.types import NoteParams
from piano_api.problems import ApiError
from piano_api.uploads import UploadInfo

logger = logging.getLogger(__name__)


def request_hash(upload: UploadInfo, params: NoteParams, want_score: bool = False) -> str:
    """What makes two submissions the same request (for Idempotency-Key replays)."""
    # The score option is counted only when on, so requests made before it existed keep their hash.
    options = {"score": True} if want_score else {}
    payload = json.dumps({"sha256": upload.sha256, "params": asdict(params), **options}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def replay(session: Session, key: str, fingerprint: str, owner_key_id: int | None = None) -> Job | None:
    """The job API key ``owner_key_id`` first created with Idempotency-Key ``key``; 409 if that request
    was different."""
    job = job_store.get_job_by_idempotency_key(session, key, owner_key_id)
    if job is not None and job.request_hash != fingerprint:
        raise ApiError(
            409,
            "idempotency_key_reused",
            "this Idempotency-Key was used for a different upload or parameters; use a new key",
        )
    return job


def submit(
    session: Session,
    storage: Storage,
    enqueue: Callable[[str], None],
    stream: BinaryIO,
    filename: str,
    upload: UploadInfo,
    params: NoteParams,
    idempotency_key: str | None,
    want_score: bool = False,
    owner_key_id: int | None = None,
    admit: Callable[[], Callable[[], None]] | None = None,
) -> tuple[Job, bool]:
    """Create and enqueue a job for API key ``owner_key_id``; returns (job, replayed) where replayed means
    an earlier answer. ``admit`` runs before anything is stored, unless it is a replay (limits, quotas); it
    returns its undo (a quota refund), called when no new job comes of the request."""
    fingerprint = request_hash(upload, params, want_score)
    if idempotency_key and (earlier := replay(session, idempotency_key, fingerprint, owner_key_id)):
        return earlier, True
    undo_admit = admit() if admit is not None else _nothing
    try:
        job, replayed = _create(
            session, storage, enqueue, stream, filename, upload, params, idempotency_key, fingerprint,
            want_score=want_score, owner_key_id=owner_key_id,
        )  # fmt: skip
    except BaseException:
        undo_admit()
        raise
    if replayed:  # a concurrent request with the same Idempotency-Key made the job
        undo_admit()
    return job, replayed


def _nothing() -> None:
    """Nothing to undo."""


def _create(
    session: Session,
    storage: Storage,
    enqueue: Callable[[str], None],
    stream: BinaryIO,
    filename: str,
    upload: UploadInfo,
    params: NoteParams,
    idempotency_key: str | None,
    fingerprint: str,
    want_score: bool,
    owner_key_id: int | None,
) -> tuple[Job, bool]:
    """Store the upload, insert the row, enqueue; (job, replayed) as for submit()."""
    job_id = str(uuid.uuid4())
    keys = job_keys(job_id, upload.format)
    stream.seek(0)
    storage.put_stream(keys.input, stream, upload.content_type)  # StorageError: 503 storage_unavailable
    try:
        job = job_store.create_job(
            session,
            id=job_id,
            filename=filename[:255],
            content_type=upload.content_type,
            size_bytes=upload.size_bytes,
            params=asdict(params),
            want_score=want_score,
            input_key=keys.input,
            idempotency_key=idempotency_key,
            request_hash=fingerprint,
            owner_key_id=owner_key_id,
            # Marked sent in the insert (one write, not two): if this process dies before the send, the
            # reconciler finds no message for the job and sends it (PIANO_AI_RESEND_LOST_AFTER_S).
            enqueued_at=job_store.db_now(session),
        )
    except IntegrityError:
        # A concurrent request with the same Idempotency-Key won the insert: answer with its job.
        storage.delete(keys.input)
        if idempotency_key and (earlier := replay(session, idempotency_key, fingerprint, owner_key_id)):
            return earlier, True
        raise
    except BaseException:
        storage.delete(keys.input)
        raise
    try:
        enqueue(job_id)
    except Exception as exc:
        logger.exception("job %s: enqueue failed; removing it", job_id)
        session.execute(delete(Job).where(Job.id == job_id))
        session.commit()
        storage.delete(keys.input)
        raise ApiError(503, "queue_unavailable", "the job queue is unreachable; try again shortly") from exc
    logger.info("job %s: queued (%s, %d bytes)", job_id, upload.format, upload.size_bytes)
    return job, False
