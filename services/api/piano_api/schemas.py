"""Request and response bodies; the table model (piano_ai.db.Job) is never returned directly."""

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from piano_ai.db.models import Job, JobStatus
from piano_ai.db.stats import QueueStats

Status = Literal["queued", "running", "succeeded", "failed", "canceled"]
Stage = Literal["decoding", "features", "inference", "postprocessing", "score", "uploading"]


def iso(value: datetime | None) -> str | None:
    """ISO 8601 UTC with a Z, or None."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JobParams(BaseModel):
    onset_threshold: float
    frame_threshold: float
    offset_threshold: float
    min_note_ms: float
    pedal: Literal["cc64", "extend"] = "cc64"  # jobs stored before the pedal mode existed are "cc64"
    ends: Literal["network", "rule"] = Field(
        "network",
        description="network: a network chose where notes end; rule: frame and offset thresholds did",
    )
    score: bool = Field(False, description="whether the job makes sheet music (MusicXML), tracking the beats")


# The ranges NoteParams.validate() enforces (422 invalid_parameters), stated in the OpenAPI document.
PROBABILITY: dict[str, Any] = {"exclusiveMinimum": 0.0, "exclusiveMaximum": 1.0}
MIN_NOTE_MS: dict[str, Any] = {"minimum": 0.0, "maximum": 5000.0}


class ParamsChange(BaseModel):
    """Any of the note parameters; those left out keep the job's own values."""

    onset_threshold: float | None = Field(
        None, description="onset probability that starts a note (0..1)", json_schema_extra=PROBABILITY
    )
    frame_threshold: float | None = Field(
        None,
        description="with ends=rule: frame probability that keeps it sounding",
        json_schema_extra=PROBABILITY,
    )
    offset_threshold: float | None = Field(
        None,
        description="with ends=rule: offset probability that ends it early",
        json_schema_extra=PROBABILITY,
    )
    min_note_ms: float | None = Field(
        None, description="notes shorter than this are dropped, ms", json_schema_extra=MIN_NOTE_MS
    )
    pedal: Literal["cc64", "extend"] | None = Field(
        None, description="cc64: the sustain pedal as CC64 events; extend: notes lengthened by it, no CC64"
    )
    ends: Literal["network", "rule"] | None = Field(
        None, description="network: a network chooses where notes end; rule: frame and offset thresholds do"
    )

    def given(self) -> dict[str, float | str]:
        """The parameters that were set."""
        return self.model_dump(exclude_none=True)


class JobUpdate(BaseModel):
    """PATCH /v1/jobs/{id}: save new note parameters as the job's own."""

    note_params: ParamsChange


class JobError(BaseModel):
    code: str = Field(description="stable, machine-readable: invalid_audio, timeout, internal_error, ...")
    message: str


class JobLinks(BaseModel):
    self: str
    audio: str = Field(description="the upload itself, as received (its own format and content type)")
    midi: str | None = None
    notes: str | None = None
    notes_csv: str | None = None
    score: str | None = Field(None, description="the sheet music as MusicXML, once made")
    score_midi: str | None = Field(
        None, description="the sheet music as MIDI: quantized notes at one tempo, once made"
    )


class ScoreOut(BaseModel):
    """What the score stage found: the beats the MIDI file's tempo map carries, and the score's settings."""

    found: bool = Field(description="false when no steady beat was found: barred at 120 bpm in 4/4")
    note: str = Field("", description="why the beat was not found, or why there is no score; else empty")
    key: str | None = Field(None, description='estimated key, e.g. "Ab major", "F# minor"')
    time_signature: str | None = Field(None, description='e.g. "3/4" (a tracked beat is a quarter note)')
    tempo_bpm: float | None = Field(None, description="median tracked tempo, beats per minute")
    pedal_marks: int = Field(0, description="sustain-pedal marks (Ped. ... *) written in the score")
    beats: list[float] | None = Field(
        None, description="beat times, seconds; left out (null) in job lists: GET the job for them"
    )
    downbeats: list[float] | None = Field(None, description="times of each bar's first beat, seconds")


class JobPublic(BaseModel):
    """A conversion job as clients see it."""

    id: str
    status: Status
    stage: Stage | None
    progress: float = Field(ge=0.0, le=1.0)
    filename: str
    params: JobParams
    attempts: int = Field(description="how many times a worker started the job (retries and redeliveries)")
    worker: str | None = Field(description="the worker that ran (or runs) its latest attempt")
    error: JobError | None
    created_at: str
    enqueued_at: str | None = Field(description="when its latest attempt was sent to the queue")
    started_at: str | None = Field(description="when a worker started its latest attempt")
    finished_at: str | None
    canceled_at: str | None
    updated_at: str
    audio_duration_s: float | None
    note_count: int | None
    score: ScoreOut | None = Field(description="beats, key and meter, once a job that makes a score succeeds")
    links: JobLinks

    @classmethod
    def from_job(cls, job: Job, with_beats: bool = True) -> "JobPublic":
        """The job as clients see it; ``with_beats`` False leaves the score's beat lists out (job lists)."""
        done = job.status == JobStatus.SUCCEEDED.value
        score = ScoreOut.model_validate(job.score) if done and job.score else None
        if score is not None and not with_beats:
            score.beats = score.downbeats = None
        path = f"/v1/jobs/{job.id}"
        error = JobError(code=job.error_code, message=job.error_message or "") if job.error_code else None
        return cls(
            id=job.id,
            status=job.status,  # type: ignore[arg-type]
            stage=job.stage,  # type: ignore[arg-type]
            progress=min(max(job.progress, 0.0), 1.0),
            filename=job.filename,
            params=JobParams(**job.params, score=bool(job.want_score)),
            attempts=job.attempts,
            worker=job.worker,
            error=error,
            created_at=iso(job.created_at) or "",
            enqueued_at=iso(job.enqueued_at),
            started_at=iso(job.started_at),
            finished_at=iso(job.finished_at),
            canceled_at=iso(job.canceled_at),
            updated_at=iso(job.updated_at) or "",
            audio_duration_s=job.audio_duration_s,
            note_count=job.note_count,
            score=score,
            links=JobLinks(
                self=path,
                audio=f"{path}/audio",
                midi=f"{path}/midi" if done else None,
                notes=f"{path}/notes" if done else None,
                notes_csv=f"{path}/notes.csv" if done else None,
                score=f"{path}/score.musicxml" if done and job.score_key else None,
                score_midi=f"{path}/score.mid" if done and job.score_key else None,
            ),
        )


class JobList(BaseModel):
    items: list[JobPublic]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next (older) page; null at the end")


class NoteOut(BaseModel):
    pitch: int = Field(description="MIDI pitch, 21..108")
    start: float = Field(description="seconds")
    end: float = Field(description="seconds")
    velocity: int = Field(description="MIDI velocity, 1..127")


class PressOut(BaseModel):
    down: float = Field(description="seconds")
    up: float = Field(description="seconds")


class JobNotes(BaseModel):
    job_id: str
    notes: list[NoteOut]
    pedal: Literal["cc64", "extend"] | None = Field(
        None, description="cc64: the MIDI writes `sustain` as CC64; extend: the notes already last through it"
    )
    sustain: list[PressOut] = Field(
        default_factory=list, description="sustain-pedal presses (empty with pedal=extend)"
    )


class DecodedLinks(BaseModel):
    midi: str = Field(description="these notes as a MIDI file (the job's MIDI link with the parameters)")
    notes_csv: str


class DecodedNotes(BaseModel):
    """Notes decoded again from a job's stored model outputs with other parameters; the job is unchanged."""

    job_id: str
    params: JobParams = Field(description="the parameters used: the ones sent, the job's for the rest")
    note_count: int
    notes: list[NoteOut]
    sustain: list[PressOut] = Field(description="sustain-pedal presses written as CC64 (empty with extend)")
    links: DecodedLinks


class WindowOut(BaseModel):
    window_s: int
    finished: int
    failed: int
    mean_latency_s: float | None


class WorkerOut(BaseModel):
    name: str
    last_seen: str
    busy: bool = Field(description="whether its last heartbeat said it was running a job")
    current_job: str | None = Field(description="id of the job it is running")
    processed: int = Field(description="jobs whose latest attempt it ran that succeeded")
    failed: int = Field(description="jobs whose latest attempt it ran that failed")


class QueueOut(BaseModel):
    counts: dict[str, int]
    oldest_queued_age_s: float | None
    windows: list[WindowOut]
    workers: list[WorkerOut]
    errors_by_code: dict[str, int]

    @classmethod
    def from_stats(cls, stats: QueueStats) -> "QueueOut":
        return cls(
            counts=stats.counts,
            oldest_queued_age_s=stats.oldest_queued_age_s,
            windows=[WindowOut(**vars(w)) for w in stats.windows],
            workers=[WorkerOut(**{**vars(w), "last_seen": iso(w.last_seen) or ""}) for w in stats.workers],
            errors_by_code=stats.errors_by_code,
        )


class DepthPointOut(BaseModel):
    time: str
    queued: int
    running: int


class QueueHistoryOut(BaseModel):
    """Queued and running jobs at evenly spaced times over a past window, from the job table."""

    window_s: float
    step_s: float
    points: list[DepthPointOut]


class Readiness(BaseModel):
    """GET /readyz: each check "ok" or "error" (details stay in the log)."""

    status: Literal["ok", "unavailable"]
    checks: dict[str, Literal["ok", "error"]] = Field(description="database, broker, storage")


class Problem(BaseModel):
    """RFC 9457 problem details, plus a stable ``code``."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    code: str
