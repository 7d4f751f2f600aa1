"""/v1/jobs: submit, poll, list, download (the upload; MIDI and notes with the job's or other note parameters;
MusicXML), cancel, retry, delete."""

import json
import logging
from collections.abc import Callable
from pathlib import PurePath
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Header, Query, Response, UploadFile
from fastapi.responses import FileResponse, RedirectResponse, StreamingResponse

from piano_ai.db import jobs as job_store
from piano_ai.db.models import Job, JobStatus
from piano_ai.midi_io import midi_bytes, notes_csv_text, notes_from_dicts, notes_to_json
from piano_ai.storage import ObjectNotFoundError, job_keys
from piano_ai.transcribe import Transcript
from piano_ai.types import NoteParams
from piano_api import decoding
from piano_api.auth import Caller, CallerDep
from piano_api.deps import EnqueueDep, LimiterDep, SessionDep, SettingsDep, StorageDep
from piano_api.metrics import JOBS_SUBMITTED
from piano_api.problems import ApiError
from piano_api.responses import V1_ERRORS, errors, json_body
from piano_api.schemas import MIN_NOTE_MS, PROBABILITY, JobList, JobNotes, JobPublic, ParamsChange, Status
from piano_api.submission import submit
from piano_api.uploads import clean_filename, inspect_upload

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/jobs", tags=["jobs"], responses=V1_ERRORS)
_DEFAULTS = NoteParams()
# Note parameters in a download's query: the notes they give, decoded again from the stored model outputs.
ParamsQuery = Annotated[ParamsChange, Query()]
MUSICXML_TYPE = "application/vnd.recordare.musicxml+xml"
SCORE_HELP = (
    "true also makes sheet music (GET .../score.musicxml) and tracks the beats (the MIDI file's tempo map);"
    " off by default because beat tracking costs about 10 s per minute of audio, 40 times the transcription"
)


def attachment(filename: str) -> str:
    """A Content-Disposition value for any file name: an ASCII fallback plus the UTF-8 name (RFC 6266)."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=utf-8''{quote(filename)}"


def job_or_404(session: SessionDep, caller: Caller, job_id: str) -> Job:
    """The job, when it exists and ``caller`` may see it; 404 otherwise (another key's job is not there)."""
    job = job_store.get_job(session, job_id)
    if job is None or not caller.may_see(job):
        raise ApiError(404, "job_not_found", f"no job with id {job_id}")
    return job


def succeeded_or_409(job: Job) -> None:
    if job.status != JobStatus.SUCCEEDED.value:
        raise ApiError(
            409, "job_not_succeeded", f"job {job.id} is {job.status}; results exist once it succeeds"
        )


@router.post("", status_code=202, response_model=JobPublic, responses=errors(400, 409, 413, 415, 422, 429))
def create_job(
    caller: CallerDep,
    limiter: LimiterDep,
    session: SessionDep,
    storage: StorageDep,
    settings: SettingsDep,
    enqueue: EnqueueDep,
    file: Annotated[
        UploadFile,
        File(
            description="the recording: wav, flac, mp3, ogg, m4a or raw AAC",
            json_schema_extra={"minLength": 1},
        ),
    ],
    onset_threshold: Annotated[float, Form(json_schema_extra=PROBABILITY)] = _DEFAULTS.onset_threshold,
    frame_threshold: Annotated[float, Form(json_schema_extra=PROBABILITY)] = _DEFAULTS.frame_threshold,
    offset_threshold: Annotated[float, Form(json_schema_extra=PROBABILITY)] = _DEFAULTS.offset_threshold,
    min_note_ms: Annotated[float, Form(json_schema_extra=MIN_NOTE_MS)] = _DEFAULTS.min_note_ms,
    pedal: Annotated[
        Literal["cc64", "extend"],
        Form(description="cc64: the MIDI carries the sustain pedal; extend: notes lengthened by it, no CC64"),
    ] = "cc64",
    ends: Annotated[
        Literal["network", "rule"],
        Form(description="network: a network chooses where notes end; rule: frame and offset thresholds do"),
    ] = "network",
    score: Annotated[bool, Form(description=SCORE_HELP)] = False,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> Response:
    """Upload a recording to convert; poll the returned job (Location) until it succeeds."""
    limiter.check_rate(caller)
    params = NoteParams(
        onset_threshold, frame_threshold, offset_threshold, min_note_ms, pedal, ends
    ).validate()
    name = clean_filename(file.filename)
    upload = inspect_upload(file.file, name, settings.max_upload_bytes, settings.max_audio_s)

    def admit() -> Callable[[], None]:  # returns the bytes' refund, for an upload that makes no job
        limiter.check_active(session, caller)
        return limiter.charge_bytes(caller, upload.size_bytes)

    job, replayed = submit(
        session,
        storage,
        enqueue,
        file.file,
        name,
        upload,
        params,
        idempotency_key,
        want_score=score,
        owner_key_id=caller.key_id,
        admit=admit,
    )
    headers = {"Location": f"/v1/jobs/{job.id}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    else:
        JOBS_SUBMITTED.inc()
    return json_body(JobPublic.from_job(job), 202, headers)


@router.get("", response_model=JobList, responses=errors(422))
def list_jobs(
    caller: CallerDep,
    session: SessionDep,
    status: Status | None = None,
    q: Annotated[str | None, Query(max_length=255, description="file name contains (any case)")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(pattern=r"^\d{1,18}$")] = None,
) -> JobList:
    """This key's jobs (an admin key: everyone's), newest first, optionally in one status or with a file
    name containing ``q``; follow next_cursor for older ones."""
    before = int(cursor) if cursor else None
    jobs, next_seq = job_store.list_jobs(
        session, status, limit, before, name_contains=q or None, owner_key_id=caller.owner_filter
    )
    return JobList(
        items=[JobPublic.from_job(job, with_beats=False) for job in jobs],
        next_cursor=str(next_seq) if next_seq else None,
    )


@router.get("/{job_id}", response_model=JobPublic, responses=errors(404, 422))
def get_job(caller: CallerDep, session: SessionDep, job_id: str) -> Response:
    """One job: status, stage, progress, timestamps, error and result links."""
    return json_body(JobPublic.from_job(job_or_404(session, caller, job_id)))


def _decoded(storage: StorageDep, job: Job, change: ParamsChange) -> tuple[Transcript, NoteParams] | None:
    """The notes and pedal for parameters given in the query, or None when they are the job's own (stored)."""
    params = decoding.merged(job, change)
    return None if decoding.is_own(job, params) else (decoding.decode(storage, job, params), params)


@router.get(
    "/{job_id}/midi",
    response_class=Response,
    responses={200: {"content": {"audio/midi": {}}}, **errors(404, 409, 410, 422)},
)
def get_midi(
    caller: CallerDep,
    session: SessionDep,
    storage: StorageDep,
    settings: SettingsDep,
    job_id: str,
    change: ParamsQuery,
) -> Response:
    """The transcription as a standard MIDI file (or a 307 redirect to a signed storage URL).

    With note parameters in the query, the notes those give (decoded again from the stored model outputs).
    """
    job = job_or_404(session, caller, job_id)
    succeeded_or_409(job)
    assert job.midi_key is not None
    download_name = f"{PurePath(job.filename).stem or 'transcription'}.mid"
    if (decoded := _decoded(storage, job, change)) is not None:
        headers = {"Content-Disposition": attachment(download_name)}
        midi = midi_bytes(decoded[0].notes, sustain=decoded[0].sustain)
        return Response(midi, media_type="audio/midi", headers=headers)
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
    "/{job_id}/audio",
    response_class=Response,
    responses={200: {"content": {"audio/*": {}}}, **errors(404, 410, 422)},
)
def get_audio(
    caller: CallerDep, session: SessionDep, storage: StorageDep, settings: SettingsDep, job_id: str
) -> Response:
    """The recording as uploaded (its own format and content type), to listen to; ranges are honoured."""
    job = job_or_404(session, caller, job_id)
    media_type = job.content_type or "application/octet-stream"
    if url := storage.signed_url(job.input_key, settings.signed_url_ttl_s):
        return RedirectResponse(url, status_code=307)
    if path := storage.local_path(job.input_key):
        return FileResponse(
            path, media_type=media_type, filename=job.filename, content_disposition_type="inline"
        )
    try:
        stream = storage.open(job.input_key)
    except ObjectNotFoundError as exc:
        raise ApiError(410, "upload_missing", "the uploaded recording is gone from storage") from exc
    return StreamingResponse(stream, media_type=media_type)


@router.get(
    "/{job_id}/score.musicxml",
    response_class=Response,
    responses={200: {"content": {MUSICXML_TYPE: {}}}, **errors(404, 409, 410, 422)},
)
def get_score(caller: CallerDep, session: SessionDep, storage: StorageDep, job_id: str) -> Response:
    """The transcription as sheet music (two-staff MusicXML), for notation programs."""
    job = job_or_404(session, caller, job_id)
    return _score_file(storage, job, job.score_key, "MusicXML file", "musicxml", MUSICXML_TYPE)


@router.get(
    "/{job_id}/score.mid",
    response_class=Response,
    responses={200: {"content": {"audio/midi": {}}}, **errors(404, 409, 410, 422)},
)
def get_score_midi(caller: CallerDep, session: SessionDep, storage: StorageDep, job_id: str) -> Response:
    """The sheet music as MIDI: its quantized notes (a track per staff) at one constant tempo."""
    job = job_or_404(session, caller, job_id)
    key = job_keys(job.id).score_midi if job.score_key else None
    return _score_file(storage, job, key, "quantized MIDI file", "quantized.mid", "audio/midi")


def _score_file(
    storage: StorageDep, job: Job, key: str | None, what: str, extension: str, media_type: str
) -> Response:
    """One of the score's files as an attachment: 409 before the job succeeds, 404 without a score."""
    succeeded_or_409(job)
    if key is None:
        why = (job.score or {}).get("note") or "the job was submitted without score=true"
        raise ApiError(404, "score_not_found", f"job {job.id} has no score: {why}")
    try:
        data = storage.get_bytes(key)
    except ObjectNotFoundError as exc:
        raise ApiError(410, "result_missing", f"the {what} is gone from storage") from exc
    download_name = f"{PurePath(job.filename).stem or 'transcription'}.{extension}"
    return Response(data, media_type=media_type, headers={"Content-Disposition": attachment(download_name)})


def _stored_notes(
    caller: Caller, session: SessionDep, storage: StorageDep, job_id: str, change: ParamsChange
) -> tuple[Job, list[dict[str, Any]]]:
    job, stored = _stored_result(caller, session, storage, job_id, change)
    return job, stored["notes"]


def _stored_result(
    caller: Caller, session: SessionDep, storage: StorageDep, job_id: str, change: ParamsChange
) -> tuple[Job, dict[str, Any]]:
    """The job and its notes file ({"notes": [...]} and, for jobs made since the pedal head, pedal and
    sustain), or the same decoded again when the query gives other parameters."""
    job = job_or_404(session, caller, job_id)
    succeeded_or_409(job)
    assert job.notes_key is not None
    if (decoded := _decoded(storage, job, change)) is not None:
        transcript, params = decoded
        return job, json.loads(notes_to_json(transcript.notes, transcript.sustain, params.pedal))
    try:
        stored: Any = json.loads(storage.get_bytes(job.notes_key))
    except ObjectNotFoundError as exc:
        raise ApiError(410, "result_missing", "the notes file is gone from storage") from exc
    return job, stored if isinstance(stored, dict) else {"notes": stored}


@router.get("/{job_id}/notes", response_model=JobNotes, responses=errors(404, 409, 410, 422))
def get_notes(
    caller: CallerDep, session: SessionDep, storage: StorageDep, job_id: str, change: ParamsQuery
) -> JobNotes:
    """The transcribed notes as JSON (pitch, start and end in seconds, velocity), for piano rolls."""
    job, stored = _stored_result(caller, session, storage, job_id, change)
    return JobNotes(job_id=job.id, **stored)


@router.get(
    "/{job_id}/notes.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **errors(404, 409, 410, 422)},
)
def get_notes_csv(
    caller: CallerDep, session: SessionDep, storage: StorageDep, job_id: str, change: ParamsQuery
) -> Response:
    """The same notes as CSV, the CLI's columns: start_s,end_s,pitch,velocity,name (for spreadsheets)."""
    job, notes = _stored_notes(caller, session, storage, job_id, change)
    download_name = f"{PurePath(job.filename).stem or 'transcription'}.csv"
    headers = {"Content-Disposition": attachment(download_name)}
    text = notes_csv_text(notes_from_dicts(notes))
    return Response(text, media_type="text/csv; charset=utf-8", headers=headers)


@router.post("/{job_id}/cancel", response_model=JobPublic, responses=errors(404, 409, 415, 422))
def cancel_job(caller: CallerDep, session: SessionDep, job_id: str) -> JobPublic:
    """Cancel a queued or running job (a running one stops at its next stage boundary)."""
    job = job_or_404(session, caller, job_id)
    if not job_store.cancel(session, job_id):
        job = job_or_404(session, caller, job_id)
        if job.status != JobStatus.CANCELED.value:
            raise ApiError(409, "job_not_active", f"job {job_id} already {job.status}; nothing to cancel")
    else:
        logger.info("job %s: canceled", job_id)
    return JobPublic.from_job(job_or_404(session, caller, job_id))


@router.post(
    "/{job_id}/retry", status_code=202, response_model=JobPublic, responses=errors(404, 409, 415, 422)
)
def retry_job(
    caller: CallerDep, response: Response, session: SessionDep, enqueue: EnqueueDep, job_id: str
) -> JobPublic:
    """Run a failed or canceled job again on the same upload: a new attempt, queued now."""
    job = job_or_404(session, caller, job_id)
    if not job_store.retry(session, job_id):
        job = job_or_404(session, caller, job_id)
        raise ApiError(
            409,
            "job_not_retryable",
            f"job {job_id} is {job.status}; only a failed or canceled job can be retried",
        )
    try:
        enqueue(job_id)
    except Exception:
        # The row is queued and marked unsent: the worker's sweep sends it once the queue answers.
        logger.exception("job %s: queued again, but the queue is unreachable; a sweep will send it", job_id)
        job_store.unmark_enqueued(session, job_id)
    else:
        logger.info("job %s: queued again (after %d attempts)", job_id, job.attempts)
    response.headers["Location"] = f"/v1/jobs/{job_id}"
    return JobPublic.from_job(job_or_404(session, caller, job_id))


@router.delete("/{job_id}", status_code=204, response_class=Response, responses=errors(404, 409, 415, 422))
def delete_job(caller: CallerDep, session: SessionDep, storage: StorageDep, job_id: str) -> Response:
    """Delete a finished (succeeded, failed or canceled) job and its stored files."""
    job = job_or_404(session, caller, job_id)
    prefix = job.input_key.rsplit("/", 1)[0] + "/"
    # The files go while the row is locked: a storage outage (503) keeps the job, files and all.
    if not job_store.delete_job(session, job_id, before_commit=lambda: storage.delete_prefix(prefix)):
        raise ApiError(409, "job_active", f"job {job_id} is {job.status}; cancel it before deleting")
    logger.info("job %s: deleted", job_id)
    return Response(status_code=204)
