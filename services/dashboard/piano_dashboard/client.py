"""A small typed client for the piano-ai REST API (the dashboard's only way to the backend).

Models mirror the contract in the API's JobPublic/queue schemas; every failure, an HTTP error or an
unreachable server, is raised as ApiError with a stable ``code`` and a message for people.
"""

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Protocol, TypeVar

import httpx
from pydantic import AfterValidator, BaseModel, Field, ValidationError

from piano_ai.types import NoteParams

JobStatus = Literal["queued", "running", "succeeded", "failed", "canceled"]
STATUSES: tuple[JobStatus, ...] = ("queued", "running", "succeeded", "failed", "canceled")
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "canceled"})
ACTIVE: frozenset[str] = frozenset({"queued", "running"})

DEFAULT_TIMEOUT_S = 30.0  # seconds per request; uploads of large files may take a while
UPLOAD_TIMEOUT_S = 300.0  # seconds for POST /v1/jobs (the body can be up to PIANO_AI_MAX_UPLOAD_MB)


def _as_utc(moment: datetime) -> datetime:
    # A timestamp without an offset (SQLite drops it) is UTC by the contract.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


class ApiError(Exception):
    """A request the API refused or could not serve; ``code`` is the API's stable error code."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


_DEFAULTS = NoteParams()  # one source of truth for the defaults: the ones tuned with the shipped model


class JobParams(BaseModel):
    """The post-processing knobs, with piano_ai.types.NoteParams' defaults, and the score option."""

    onset_threshold: float = _DEFAULTS.onset_threshold
    frame_threshold: float = _DEFAULTS.frame_threshold
    offset_threshold: float = _DEFAULTS.offset_threshold
    min_note_ms: float = _DEFAULTS.min_note_ms
    pedal: str = (
        _DEFAULTS.pedal
    )  # "cc64": the MIDI carries the sustain pedal; "extend": notes lengthened by it
    ends: str = _DEFAULTS.ends  # "network": a network chooses where notes end; "rule": the two thresholds
    score: bool = True  # make sheet music (MusicXML) and track the beats


class JobErrorInfo(BaseModel):
    code: str
    message: str


class JobLinks(BaseModel):
    self_: str = Field(alias="self")
    audio: str | None = None  # the upload itself
    midi: str | None = None
    notes: str | None = None
    score: str | None = None  # the MusicXML, once made
    score_midi: str | None = None  # the score's quantized notes as MIDI, once made


class ScoreInfo(BaseModel):
    """What the score stage found (the API's ScoreOut)."""

    found: bool  # False: no steady beat, barred at 120 bpm in 4/4
    note: str = ""  # why the beat was not found, or why there is no score
    key: str | None = None  # e.g. "Ab major"
    time_signature: str | None = None  # e.g. "3/4"
    tempo_bpm: float | None = None
    pedal_marks: int = 0


class Job(BaseModel):
    """One transcription job as the API shows it (JobPublic)."""

    id: str
    status: JobStatus
    stage: str | None = None
    progress: float = 0.0  # 0..1
    filename: str
    params: JobParams = Field(default_factory=JobParams)
    attempts: int = 0
    worker: str | None = None  # the worker of its latest attempt
    error: JobErrorInfo | None = None
    created_at: UtcDatetime | None = None
    enqueued_at: UtcDatetime | None = None  # when its latest attempt was sent to the queue
    started_at: UtcDatetime | None = None
    finished_at: UtcDatetime | None = None
    canceled_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None
    audio_duration_s: float | None = None
    note_count: int | None = None
    score: ScoreInfo | None = None
    links: JobLinks | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def latency_s(self) -> float | None:
        """Seconds from submission to the end of the job (None while it runs)."""
        if self.created_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.created_at).total_seconds()

    @property
    def wait_s(self) -> float | None:
        """Seconds its latest attempt waited in the queue: from its send (a retry's, or the submission) to
        a worker starting it."""
        if self.started_at is None or self.created_at is None:
            return None
        sent = (
            self.enqueued_at if self.enqueued_at and self.enqueued_at <= self.started_at else self.created_at
        )
        return max((self.started_at - sent).total_seconds(), 0.0)

    @property
    def work_s(self) -> float | None:
        """Seconds a worker spent on its latest attempt (None until it ends)."""
        if self.started_at is None or self.finished_at is None:
            return None
        return max((self.finished_at - self.started_at).total_seconds(), 0.0)


class JobPage(BaseModel):
    items: list[Job]
    next_cursor: str | None = None


class NoteOut(BaseModel):
    pitch: int  # MIDI pitch
    start: float  # seconds
    end: float  # seconds
    velocity: int  # 1..127


class JobNotes(BaseModel):
    job_id: str
    notes: list[NoteOut]


class DecodedLinks(BaseModel):
    midi: str  # path of these notes as a MIDI file
    notes_csv: str


class Decoded(BaseModel):
    """POST /v1/jobs/{id}/decode: a job's notes with other parameters (the job itself is unchanged)."""

    job_id: str
    params: JobParams
    note_count: int
    notes: list[NoteOut]
    links: DecodedLinks


class QueueWindow(BaseModel):
    window_s: int  # length of the window, seconds (300, 3600, 86400)
    finished: int
    failed: int
    mean_latency_s: float | None = None


class WorkerSeen(BaseModel):
    name: str
    last_seen: UtcDatetime | None = None
    busy: bool = False
    current_job: str | None = None  # id of the job it runs
    processed: int = 0  # jobs it ran that succeeded
    failed: int = 0  # jobs it ran that failed


class DepthPoint(BaseModel):
    time: UtcDatetime
    queued: int
    running: int


class QueueHistory(BaseModel):
    """Queue depth over a past window, from the job table (GET /v1/queue/history)."""

    window_s: float
    step_s: float
    points: list[DepthPoint]


class QueueStats(BaseModel):
    counts: dict[str, int]
    oldest_queued_age_s: float | None = None
    windows: list[QueueWindow] = Field(default_factory=list)
    workers: list[WorkerSeen] = Field(default_factory=list)
    errors_by_code: dict[str, int] = Field(default_factory=dict)


class JobsApi(Protocol):
    """What the pages need from the API; ApiClient implements it, tests pass a fake."""

    base_url: str

    def submit(self, filename: str, content: bytes, params: JobParams) -> Job: ...
    def get_job(self, job_id: str) -> Job: ...
    def list_jobs(self, status: str | None = None, limit: int = 100, q: str | None = None) -> JobPage: ...
    def get_midi(self, job_id: str) -> bytes: ...
    def get_notes(self, job_id: str) -> JobNotes: ...
    def decode(self, job_id: str, params: JobParams) -> Decoded: ...
    def download(self, path: str) -> bytes: ...
    def save_params(self, job_id: str, params: JobParams) -> Job: ...
    def get_score(self, job_id: str) -> bytes: ...
    def get_audio(self, job_id: str) -> tuple[bytes, str]: ...
    def get_score_midi(self, job_id: str) -> bytes: ...
    def cancel(self, job_id: str) -> Job: ...
    def retry(self, job_id: str) -> Job: ...
    def delete(self, job_id: str) -> None: ...
    def queue(self) -> QueueStats: ...
    def queue_history(self, window_s: float) -> QueueHistory: ...


class ApiClient:
    """HTTP client for the piano-ai API at ``base_url`` (e.g. http://127.0.0.1:8000), sending ``api_key``
    (PIANO_AI_API_KEY) as ``Authorization: Bearer``."""

    def __init__(
        self, base_url: str, api_key: str | None = None, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # follow_redirects: GET /midi may answer 307 to a signed GCS URL (httpx drops Authorization when
        # a redirect leaves this host, so the key never reaches storage).
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=DEFAULT_TIMEOUT_S,
            follow_redirects=True,
            transport=transport,
        )

    def submit(self, filename: str, content: bytes, params: JobParams) -> Job:
        """POST /v1/jobs: upload audio with the post-processing knobs; returns the queued job."""
        form = {name: str(value) for name, value in params.model_dump().items()}
        files = {"file": (filename, content, "application/octet-stream")}
        response = self._request("POST", "/v1/jobs", data=form, files=files, timeout=UPLOAD_TIMEOUT_S)
        return _parse(Job, response)

    def get_job(self, job_id: str) -> Job:
        return _parse(Job, self._request("GET", f"/v1/jobs/{job_id}"))

    def list_jobs(self, status: str | None = None, limit: int = 100, q: str | None = None) -> JobPage:
        """GET /v1/jobs: the newest jobs first, optionally only one status or file names containing ``q``."""
        query: dict[str, Any] = {"limit": limit}
        if status:
            query["status"] = status
        if q:
            query["q"] = q
        return _parse(JobPage, self._request("GET", "/v1/jobs", params=query))

    def get_midi(self, job_id: str) -> bytes:
        return self._request("GET", f"/v1/jobs/{job_id}/midi").content

    def get_notes(self, job_id: str) -> JobNotes:
        return _parse(JobNotes, self._request("GET", f"/v1/jobs/{job_id}/notes"))

    def decode(self, job_id: str, params: JobParams) -> Decoded:
        """POST /v1/jobs/{id}/decode: the notes ``params`` give, from the job's stored model outputs."""
        return _parse(Decoded, self._request("POST", f"/v1/jobs/{job_id}/decode", json=params.model_dump()))

    def download(self, path: str) -> bytes:
        """GET a link the API gave (e.g. Decoded.links.midi), as bytes."""
        return self._request("GET", path).content

    def save_params(self, job_id: str, params: JobParams) -> Job:
        """PATCH /v1/jobs/{id}: make ``params`` the job's own (its notes and MIDI follow)."""
        body = {"note_params": params.model_dump()}
        return _parse(Job, self._request("PATCH", f"/v1/jobs/{job_id}", json=body))

    def get_score(self, job_id: str) -> bytes:
        """GET /v1/jobs/{id}/score.musicxml: the sheet music as MusicXML."""
        return self._request("GET", f"/v1/jobs/{job_id}/score.musicxml").content

    def get_audio(self, job_id: str) -> tuple[bytes, str]:
        """GET /v1/jobs/{id}/audio: the upload as received, and its content type."""
        response = self._request("GET", f"/v1/jobs/{job_id}/audio", timeout=UPLOAD_TIMEOUT_S)
        return response.content, response.headers.get("content-type", "application/octet-stream")

    def get_score_midi(self, job_id: str) -> bytes:
        """GET /v1/jobs/{id}/score.mid: the sheet music's quantized notes as MIDI, at one tempo."""
        return self._request("GET", f"/v1/jobs/{job_id}/score.mid").content

    def cancel(self, job_id: str) -> Job:
        return _parse(Job, self._request("POST", f"/v1/jobs/{job_id}/cancel"))

    def retry(self, job_id: str) -> Job:
        """POST /v1/jobs/{id}/retry: run a failed or canceled job again on its upload."""
        return _parse(Job, self._request("POST", f"/v1/jobs/{job_id}/retry"))

    def delete(self, job_id: str) -> None:
        """DELETE /v1/jobs/{id}: the job and its files (a queued or running job must be canceled first)."""
        self._request("DELETE", f"/v1/jobs/{job_id}")

    def queue(self) -> QueueStats:
        return _parse(QueueStats, self._request("GET", "/v1/queue"))

    def queue_history(self, window_s: float) -> QueueHistory:
        """GET /v1/queue/history: queued and running jobs over the last ``window_s`` seconds."""
        response = self._request("GET", "/v1/queue/history", params={"window_s": window_s})
        return _parse(QueueHistory, response)

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise ApiError(
                "api_timeout", f"the API at {self.base_url} did not answer in time ({exc})"
            ) from exc
        except httpx.TransportError as exc:
            raise ApiError(
                "api_unreachable",
                f"cannot reach the API at {self.base_url} ({exc}); is it running? Start it with `make run`.",
            ) from exc
        if response.status_code == 401:  # the dashboard's own setup, not the user's input
            error = _problem(response)
            hint = "set PIANO_AI_API_KEY to a key from `piano-ai keys create dashboard --admin`"
            raise ApiError(error.code, f"{error.message} ({hint})", 401)
        if response.is_error:
            raise _problem(response)
        return response


Model = TypeVar("Model", bound=BaseModel)


def _parse(model: type[Model], response: httpx.Response) -> Model:
    """The response body as ``model``; an answer that breaks the contract is an ApiError too."""
    try:
        return model.model_validate(response.json())
    except (ValueError, ValidationError) as exc:
        problem = str(exc).splitlines()[0]
        raise ApiError("bad_response", f"unexpected answer from {response.url.path}: {problem}") from exc


def _problem(response: httpx.Response) -> ApiError:
    """ApiError from an application/problem+json body (or whatever the server sent instead)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        code = str(body.get("code") or f"http_{response.status_code}")
        message = body.get("detail") or body.get("title") or response.reason_phrase
        if not isinstance(message, str):  # FastAPI's validation errors carry a list here
            message = (
                "; ".join(_describe(item) for item in message) if isinstance(message, list) else str(message)
            )
        return ApiError(code, str(message), response.status_code)
    text = response.text.strip()[:200] or response.reason_phrase
    return ApiError(f"http_{response.status_code}", text, response.status_code)


def _describe(item: Any) -> str:
    if isinstance(item, dict) and "msg" in item:
        where = ".".join(str(part) for part in item.get("loc", ()))
        return f"{where}: {item['msg']}" if where else str(item["msg"])
    return str(item)
