"""Fixtures for the dashboard page tests: a fake of our API client, a real small MIDI file, a short clip."""

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pretty_midi
import pytest
import soundfile as sf
from streamlit.testing.v1 import AppTest

from piano_ai.midi_io import midi_bytes, note_to_dict
from piano_ai.types import Note
from piano_dashboard.client import (
    ApiError,
    Decoded,
    Job,
    JobNotes,
    JobPage,
    JobParams,
    QueueHistory,
    QueueStats,
)
from piano_dashboard.session import CLIENT_KEY

APP = Path(__file__).resolve().parents[3] / "services" / "dashboard" / "piano_dashboard" / "app.py"
PAGE_TIMEOUT_S = 60  # seconds; the first run imports plotly, librosa and pandas
C_MAJOR_ARPEGGIO = ((60, 0.0), (64, 0.25), (67, 0.5), (72, 0.75))  # (MIDI pitch, start s)
# What FakeApi.decode "hears": (MIDI pitch, start s, onset probability); 4 notes at the default 0.7
SOFT_ARPEGGIO = (
    (60, 0.0, 0.9),
    (64, 0.25, 0.8),
    (67, 0.5, 0.75),
    (72, 0.75, 0.7),
    (76, 1.0, 0.4),
    (79, 1.25, 0.3),
)


def make_job(status: str = "queued", **fields: Any) -> Job:
    """A JobPublic as the API would send it, with sensible defaults."""
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "id": "0f8fad5b-d9cb-469f-a165-70867728950e",
        "status": status,
        "filename": "clip.wav",
        "created_at": (now - timedelta(seconds=30)).isoformat(),
        "updated_at": now.isoformat(),
        "links": {"self": "/v1/jobs/0f8fad5b-d9cb-469f-a165-70867728950e", "midi": None, "notes": None},
    }
    if status in ("succeeded", "failed", "canceled"):
        body["finished_at"] = now.isoformat()
    body.update(fields)
    return Job.model_validate(body)


class FakeApi:
    """Stands in for piano_dashboard.client.ApiClient: canned answers, and a record of every call."""

    base_url = "http://fake-api"

    def __init__(self, midi: bytes = b"", musicxml: bytes = b"") -> None:
        self.midi = midi
        self.musicxml = musicxml
        self.score_error: ApiError | None = None
        self.score_midi_error: ApiError | None = None
        self.calls: list[tuple[str, Any]] = []
        self.submit_error: ApiError | None = None
        self.queue_error: ApiError | None = None
        self.decode_error: ApiError | None = None
        self.delete_error: ApiError | None = None
        self.retry_error: ApiError | None = None
        self.audio_error: ApiError | None = None
        self.audio: tuple[bytes, str] = (b"RIFF-not-really", "audio/wav")  # get_audio's answer
        self.history = QueueHistory(window_s=3600, step_s=1800, points=[])
        self.links: dict[str, bytes] = {}  # download() answers: MIDI files decode() made
        # get_job answers these in turn, repeating the last one
        self.job_states: list[Job] = [make_job("succeeded", note_count=4, audio_duration_s=1.0)]
        self.jobs: list[Job] = []
        self.stats = QueueStats(
            counts={s: 0 for s in ("queued", "running", "succeeded", "failed", "canceled")}
        )

    def submit(self, filename: str, content: bytes, params: JobParams) -> Job:
        self.calls.append(("submit", (filename, len(content), params)))
        if self.submit_error:
            raise self.submit_error
        return make_job("queued", filename=filename, params=params.model_dump())

    def get_job(self, job_id: str) -> Job:
        self.calls.append(("get_job", job_id))
        return self.job_states.pop(0) if len(self.job_states) > 1 else self.job_states[0]

    def list_jobs(self, status: str | None = None, limit: int = 100, q: str | None = None) -> JobPage:
        self.calls.append(("list_jobs", status) if q is None else ("list_jobs", (status, q)))
        if self.queue_error:
            raise self.queue_error
        found = [
            j
            for j in self.jobs
            if (status is None or j.status == status) and (q or "").lower() in j.filename.lower()
        ]
        return JobPage(items=found[:limit], next_cursor="1" if len(found) > limit else None)

    def get_midi(self, job_id: str) -> bytes:
        self.calls.append(("get_midi", job_id))
        return self.midi

    def get_notes(self, job_id: str) -> JobNotes:
        return JobNotes(job_id=job_id, notes=[])

    def decode(self, job_id: str, params: JobParams) -> Decoded:
        """The notes of SOFT_ARPEGGIO whose onset probability reaches the onset threshold."""
        self.calls.append(("decode", (job_id, params)))
        if self.decode_error:
            raise self.decode_error
        notes = [Note(p, s, s + 0.5, 80) for p, s, prob in SOFT_ARPEGGIO if prob >= params.onset_threshold]
        link = f"/v1/jobs/{job_id}/midi?onset_threshold={params.onset_threshold}"
        self.links[link] = midi_bytes(notes)
        return Decoded(
            job_id=job_id,
            params=params,
            note_count=len(notes),
            notes=[note_to_dict(n) for n in notes],
            links={"midi": link, "notes_csv": link.replace("/midi", "/notes.csv")},
        )

    def download(self, path: str) -> bytes:
        self.calls.append(("download", path))
        return self.links[path]

    def save_params(self, job_id: str, params: JobParams) -> Job:
        self.calls.append(("save_params", (job_id, params)))
        return make_job("succeeded", id=job_id, params=params.model_dump())

    def delete(self, job_id: str) -> None:
        self.calls.append(("delete", job_id))
        if self.delete_error:
            raise self.delete_error
        self.jobs = [j for j in self.jobs if j.id != job_id]

    def get_score(self, job_id: str) -> bytes:
        self.calls.append(("get_score", job_id))
        if self.score_error:
            raise self.score_error
        return self.musicxml

    def get_score_midi(self, job_id: str) -> bytes:
        self.calls.append(("get_score_midi", job_id))
        if self.score_midi_error:
            raise self.score_midi_error
        return b"MThd quantized"

    def cancel(self, job_id: str) -> Job:
        self.calls.append(("cancel", job_id))
        return make_job("canceled", id=job_id)

    def retry(self, job_id: str) -> Job:
        self.calls.append(("retry", job_id))
        if self.retry_error:
            raise self.retry_error
        return make_job("queued", id=job_id)

    def get_audio(self, job_id: str) -> tuple[bytes, str]:
        self.calls.append(("get_audio", job_id))
        if self.audio_error:
            raise self.audio_error
        return self.audio

    def queue_history(self, window_s: float) -> QueueHistory:
        self.calls.append(("queue_history", window_s))
        return self.history

    def queue(self) -> QueueStats:
        self.calls.append(("queue", None))
        if self.queue_error:
            raise self.queue_error
        return self.stats

    def called(self, name: str) -> list[Any]:
        return [args for call, args in self.calls if call == name]


@pytest.fixture(scope="session")
def small_midi() -> bytes:
    """A real Standard MIDI File: a C major arpeggio on an acoustic grand, 1.25 s."""
    midi = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(program=0, name="Piano")
    for pitch, start in C_MAJOR_ARPEGGIO:
        piano.notes.append(pretty_midi.Note(velocity=90, pitch=pitch, start=start, end=start + 0.5))
    midi.instruments.append(piano)
    buffer = io.BytesIO()
    midi.write(buffer)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def short_wav() -> bytes:
    """One second of A4 at 16 kHz as a WAV file."""
    rate = 16_000
    t = np.arange(rate) / rate
    buffer = io.BytesIO()
    sf.write(buffer, (0.3 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32), rate, format="WAV")
    return buffer.getvalue()


@pytest.fixture
def job() -> Callable[..., Job]:
    """job(status, **fields): a JobPublic for canned answers."""
    return make_job


@pytest.fixture
def fake_api(small_midi: bytes) -> FakeApi:
    return FakeApi(midi=small_midi)


@pytest.fixture
def dashboard(fake_api: FakeApi) -> Callable[[str | None], AppTest]:
    """dashboard(page): the app with the fake client injected, run once, switched to ``page``."""

    def open_page(page: str | None = None) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=PAGE_TIMEOUT_S)
        at.session_state[CLIENT_KEY] = fake_api
        at.run()
        if page:
            at.switch_page(page).run()
        return at

    return open_page
