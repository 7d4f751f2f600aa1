"""/v1/jobs: submit, poll, list, download (MIDI, notes, MusicXML), cancel, delete."""

import json
import logging
from pathlib import PurePath
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Header, Query, Response, UploadFile
from fastapi.responses import FileResponse, RedirectResponse, StreamingResponse

from piano_ai.db import jobs as job_store
from piano_ai.db.models import Job, JobStatus
from piano_ai.midi_io import notes_csv_text, notes_from_dicts
from piano_ai.storage import ObjectNotFoundError
from piano_ai.types import NoteParams
from piano_api.deps import EnqueueDep, SessionDep, SettingsDep, StorageDep
from piano_api.metrics import JOBS_SUBMITTED
from piano_api.problems import ApiError
from piano_api.schemas import JobList, JobNotes, JobPublic, Status
from piano_api.submission import submit
from piano_api.uploads import clean_filename, inspect_upload

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
_DEFAULTS = NoteParams()
MUSICXML_TYPE = "application/vnd.recordare.musicxml+xml"
SCORE_HELP = (
    "also make sheet music (GET .../score.musicxml) and track the beats (the MIDI file's tempo map); false"
    " skips it, which makes a job much faster (beat tracking costs about 10 s per minute of audio)"
)


def attachment(filename: str) -> str:
    """A Content-Disposition value for any file name: an ASCII fallback plus the UTF-8 name (RFC 6266)."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=utf-8''{quote(filename)}"


def _job_or_404(session: SessionDep, job_id: str) -> Job:
    job = job_store.get_job(session, job_id)
    if job is None:
        raise ApiError(404, "job_not_found", f"no job with id {job_id}")
    return job


def _succeeded_or_409(job: Job) -> None:
    if job.status != JobStatus.SUCCEEDED.value:
        raise ApiError(
            409, "job_not_succeeded", f"job {job.id} is {job.status}; results exist once it succeeds"
        )


@router.post("", status_code=202, response_model=JobPublic)
def create_job(
    response: Response,
    session: SessionDep,
    storage: StorageDep,
    settings: SettingsDep,
    enqueue: EnqueueDep,
    file: Annotated[UploadFile, File(description="the recording: wav, flac, mp3, ogg or m4a")],
    onset_threshold: Annotated[float, Form()] = _DEFAULTS.onset_threshold,
    frame_threshold: Annotated[float, Form()] = _DEFAULTS.frame_threshold,
    offset_threshold: Annotated[float, Form()] = _DEFAULTS.offset_threshold,
    min_note_ms: Annotated[float, Form()] = _DEFAULTS.min_note_ms,
    score: Annotated[bool, Form(description=SCORE_HELP)] = True,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> JobPublic:
    """Upload a recording to convert; poll the returned job (Location) until it succeeds."""
    params = NoteParams(onset_threshold, frame_threshold, offset_threshold, min_note_ms).validate()
    name = clean_filename(file.filename)
    upload = inspect_upload(file.file, name, settings.max_upload_bytes, settings.max_audio_s)
    job, replayed = submit(
        session, storage, enqueue, file.file, name, upload, params, idempotency_key, want_score=score
    )
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    else:
        JOBS_SUBMITTED.inc()
    return JobPublic.from_job(job)


@router.get("", response_model=JobList)
def list_jobs(
    session: SessionDep,
    status: Status | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(pattern=r"^\d{1,18}$")] = None,
) -> JobList:
    """Jobs, newest first; follow next_cursor for older ones."""
    jobs, next_seq = job_store.list_jobs(session, status, limit, int(cursor) if cursor else None)
    return JobList(
        items=[JobPublic.from_job(job, with_beats=False) for job in jobs],
        next_cursor=str(next_seq) if next_seq else None,
    )


@router.get("/{job_id}", response_model=JobPublic)
def get_job(session: SessionDep, job_id: str) -> JobPublic:
    """One job: status, stage, progress, timestamps, error and result links."""
    return JobPublic.from_job(_job_or_404(session, job_id))


@router.get("/{job_id}/midi", response_class=Response, responses={200: {"content": {"audio/midi": {}}}})
def get_midi(session: SessionDep, storage: StorageDep, settings: SettingsDep, job_id: str) -> Response:
    """The transcription as a standard MIDI file (or a 307 redirect to a signed storage URL)."""
    job = _job_or_404(session, job_id)
    _succeeded_or_409(job)
    assert job.midi_key is not None
    download_name = f"{PurePath(job.filename).stem or 'transcription'}.mid"
    if url := storage.signed_url(job.midi_key, settings.signed_url_ttl_s):
        return RedirectResponse(url, status_code=307)
    if path := storage.local_path(job.midi_key):
        return FileResponse(path, media_type="audio/midi", filename=download_name)
    try:
        stream = storage.open(job.midi_key)
    except ObjectNotFoundError as exc:
        raise ApiError(410, "result_missing", "the MIDI file is gone from storage") from exc
    headers = {"Content-Disposition": attachment(download_name)}
    return StreamingResponse(stream, media_type="audio/midi", headers=headers)


@router.get(
    "/{job_id}/score.musicxml",
    response_class=Response,
    responses={200: {"content": {MUSICXML_TYPE: {}}}},
)
def get_score(session: SessionDep, storage: StorageDep, job_id: str) -> Response:
    """The transcription as sheet music (two-staff MusicXML), for notation programs."""
    job = _job_or_404(session, job_id)
    _succeeded_or_409(job)
    if job.score_key is None:
        why = (job.score or {}).get("note") or "the job was submitted with score=false"
        raise ApiError(404, "score_not_found", f"job {job_id} has no score: {why}")
    try:
        data = storage.get_bytes(job.score_key)
    except ObjectNotFoundError as exc:
        raise ApiError(410, "result_missing", "the MusicXML file is gone from storage") from exc
    download_name = f"{PurePath(job.filename).stem or 'transcription'}.musicxml"
    return Response(
        data, media_type=MUSICXML_TYPE, headers={"Content-Disposition": attachment(download_name)}
    )


def _stored_notes(session: SessionDep, storage: StorageDep, job_id: str) -> tuple[Job, list[dict[str, Any]]]:
    job = _job_or_404(session, job_id)
    _succeeded_or_409(job)
    assert job.notes_key is not None
    try:
        stored: Any = json.loads(storage.get_bytes(job.notes_key))
    except ObjectNotFoundError as exc:
        raise ApiError(410, "result_missing", "the notes file is gone from storage") from exc
    return job, stored["notes"] if isinstance(stored, dict) else stored


@router.get("/{job_id}/notes", response_model=JobNotes)
def get_notes(session: SessionDep, storage: StorageDep, job_id: str) -> JobNotes:
    """The transcribed notes as JSON (pitch, start and end in seconds, velocity), for piano rolls."""
    job, notes = _stored_notes(session, storage, job_id)
    return JobNotes(job_id=job.id, notes=notes)


@router.get("/{job_id}/notes.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def get_notes_csv(session: SessionDep, storage: StorageDep, job_id: str) -> Response:
    """The same notes as CSV, the CLI's columns: start_s,end_s,pitch,velocity,name (for spreadsheets)."""
    job, notes = _stored_notes(session, storage, job_id)
    download_name = f"{PurePath(job.filename).stem or 'transcription'}.csv"
    headers = {"Content-Disposition": attachment(download_name)}
    text = notes_csv_text(notes_from_dicts(notes))
    return Response(text, media_type="text/csv; charset=utf-8", headers=headers)


@router.post("/{job_id}/cancel", response_model=JobPublic)
def cancel_job(session: SessionDep, job_id: str) -> JobPublic:
    """Cancel a queued or running job (a running one stops at its next stage boundary)."""
    job = _job_or_404(session, job_id)
    if not job_store.cancel(session, job_id):
        job = _job_or_404(session, job_id)
        if job.status != JobStatus.CANCELED.value:
            raise ApiError(409, "job_not_active", f"job {job_id} already {job.status}; nothing to cancel")
    else:
        logger.info("job %s: canceled", job_id)
    return JobPublic.from_job(_job_or_404(session, job_id))


@router.delete("/{job_id}", status_code=204, response_class=Response)
def delete_job(session: SessionDep, storage: StorageDep, job_id: str) -> Response:
    """Delete a finished (succeeded, failed or canceled) job and its stored files."""
    job = _job_or_404(session, job_id)
    if not job_store.delete_job(session, job_id):
        raise ApiError(409, "job_active", f"job {job_id} is {job.status}; cancel it before deleting")
    prefix = job.input_key.rsplit("/", 1)[0] + "/"
    storage.delete_prefix(prefix)
    logger.info("job %s: deleted", job_id)
    return Response(status_code=204)
