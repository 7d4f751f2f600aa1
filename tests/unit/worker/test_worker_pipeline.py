"""run_job and the task's failure policy on SQLite + local storage, with the model stage faked.

(The real model runs in tests/integration/worker.)
"""

import dataclasses
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hostile_uploads import silent_flac
from service_testkit import piano_clip
from sqlalchemy.exc import OperationalError

import piano_ai.audio
import piano_ai.transcribe
from piano_ai import activations
from piano_ai.constants import N_KEYS, SAMPLE_RATE
from piano_ai.db import jobs as job_store
from piano_ai.db.migrate import upgrade
from piano_ai.db.session import make_engine, make_session_factory
from piano_ai.inference import Transcriber
from piano_ai.model import HEADS, ModelConfig
from piano_ai.storage import LocalStorage, StorageError, job_keys
from piano_ai.transcribe import Transcribed
from piano_ai.types import Note
from piano_worker import pipeline, runtime, tasks
from piano_worker.pipeline import RunSuperseded, WorkerContext, run_job

NOTES = [Note(60, 0.1, 0.6, 90), Note(67, 0.5, 1.2, 64)]
# A real Transcriber around a network that finds nothing: decoding runs for real, as in the worker.
FAKE_MODEL = Transcriber(lambda batch: {h: np.zeros((*batch.shape[:2], N_KEYS), np.float32) for h in HEADS},
                         ModelConfig(), "fake", Path("."))  # fmt: skip


OUTPUTS = {h: activations.quantize(np.full((63, N_KEYS), 0.25, np.float32)) for h in HEADS}  # 2 s, kept


def transcribed(blocks: Iterable[Any], notes: list[Note] = NOTES) -> Transcribed:
    """What transcribe_blocks returns once the (real) decoder has given all its blocks."""
    return Transcribed(notes, sum(len(block) for block in blocks) / SAMPLE_RATE, [], OUTPUTS)


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[WorkerContext]:
    url = f"sqlite:///{tmp_path}/jobs.db"
    upgrade(url)
    engine = make_engine(url)
    yield WorkerContext(
        sessions=make_session_factory(engine),
        storage=LocalStorage(tmp_path / "storage"),
        model_loader=lambda: FAKE_MODEL,
        name="test@host/1",
    )
    engine.dispose()


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, float]]:
    """Replace the model stages; records the progress reports they make."""
    reports: list[tuple[str, float]] = []

    def fake_transcribe(
        blocks: Any, model: Any, params: Any, progress: Any, expected_s: Any, **_: Any
    ) -> Transcribed:
        assert model is FAKE_MODEL
        for fraction in (0.0, 0.5, 1.0):
            reports.append(("inference", fraction))
            progress("inference", fraction)
        return transcribed(blocks)

    monkeypatch.setattr(piano_ai.transcribe, "transcribe_blocks", fake_transcribe)
    return reports


def _new_job(ctx: WorkerContext, tmp_path: Path, data: bytes | None = None, ext: str = "wav") -> str:
    job_id = f"job-{len(list(tmp_path.iterdir()))}-{ext}"
    keys = job_keys(job_id, ext)
    ctx.storage.put_bytes(
        keys.input, data if data is not None else piano_clip(tmp_path / "c.wav").read_bytes()
    )
    with ctx.sessions() as session:
        job_store.create_job(
            session,
            id=job_id,
            filename=f"take.{ext}",
            size_bytes=1,
            params={
                "onset_threshold": 0.5,
                "frame_threshold": 0.3,
                "offset_threshold": 0.5,
                "min_note_ms": 30,
            },
            input_key=keys.input,
        )
    return job_id


def _job(ctx: WorkerContext, job_id: str) -> Any:
    with ctx.sessions() as session:
        return job_store.get_job(session, job_id)


def test_success_stores_results_and_marks_the_job(
    ctx: WorkerContext, tmp_path: Path, fake_model: list
) -> None:
    job_id = _new_job(ctx, tmp_path)
    assert run_job(job_id, ctx) == "succeeded"
    job = _job(ctx, job_id)
    assert (job.status, job.attempts, job.progress, job.note_count, job.stage) == (
        "succeeded",
        1,
        1.0,
        2,
        None,
    )
    assert job.audio_duration_s == pytest.approx(2.0)
    assert job.worker == "test@host/1" and job.finished_at >= job.started_at
    keys = job_keys(job_id)
    assert ctx.storage.get_bytes(keys.midi).startswith(b"MThd")
    stored = json.loads(ctx.storage.get_bytes(keys.notes))
    assert stored["notes"][0] == {"pitch": 60, "start": 0.1, "end": 0.6, "velocity": 90}
    kept = activations.loads(ctx.storage.get_bytes(keys.activations))  # to decode again later
    assert kept.onset.shape == (63, 88)
    assert np.allclose(kept.frame, 0.25, atol=1 / activations.QUANT_LEVELS)


def test_a_finished_job_is_not_run_again(ctx: WorkerContext, tmp_path: Path, fake_model: list) -> None:
    job_id = _new_job(ctx, tmp_path)
    run_job(job_id, ctx)
    assert run_job(job_id, ctx) == "skipped"  # a redelivered message
    assert _job(ctx, job_id).attempts == 1


def test_cancel_stops_the_run_at_the_next_report_and_leaves_no_results(
    ctx: WorkerContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = _new_job(ctx, tmp_path)
    monkeypatch.setattr(pipeline, "PROGRESS_INTERVAL_S", 0.0)
    monkeypatch.setattr(pipeline, "STAGE_CHANGE_INTERVAL_S", 0.0)

    def transcribe_then_cancel(
        blocks: Any, model: Any, params: Any, progress: Any, *_: Any, **__: Any
    ) -> Transcribed:
        progress("inference", 0.0)
        with ctx.sessions() as session:
            assert job_store.cancel(session, job_id)
        progress("inference", 1.0)  # raises: the row is canceled
        raise AssertionError("not reached")

    monkeypatch.setattr(piano_ai.transcribe, "transcribe_blocks", transcribe_then_cancel)
    with pytest.raises(RunSuperseded):
        run_job(job_id, ctx)
    assert _job(ctx, job_id).status == "canceled"
    assert ctx.storage.list() == [job_keys(job_id, "wav").input]


def test_an_older_attempt_cannot_overwrite_a_newer_one(ctx: WorkerContext, tmp_path: Path) -> None:
    job_id = _new_job(ctx, tmp_path)
    with ctx.sessions() as session:
        old = job_store.claim(session, job_id, "dead@host/1")
        new = job_store.claim(session, job_id, "live@host/2")  # the redelivered message
        assert (old, new) == (1, 2)
        assert not job_store.report_progress(session, job_id, old, "inference", 0.5)
        assert not job_store.succeed(session, job_id, old, note_count=0)
        assert job_store.succeed(session, job_id, new, note_count=3)
        assert not job_store.fail(session, job_id, new, "late", "too late")
    job = _job(ctx, job_id)
    assert (job.status, job.attempts, job.note_count, job.worker) == ("succeeded", 2, 3, "live@host/2")


def test_cancel_found_at_the_end_still_leaves_no_results(
    ctx: WorkerContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = _new_job(ctx, tmp_path)

    def transcribe_then_cancel(
        blocks: Any, model: Any, params: Any, progress: Any, *_: Any, **__: Any
    ) -> Transcribed:
        with ctx.sessions() as session:
            assert job_store.cancel(session, job_id)
        return transcribed(blocks)  # no progress report in between: succeed() finds the cancel

    monkeypatch.setattr(piano_ai.transcribe, "transcribe_blocks", transcribe_then_cancel)
    with pytest.raises(RunSuperseded):
        run_job(job_id, ctx)
    assert _job(ctx, job_id).status == "canceled"
    assert ctx.storage.list() == [job_keys(job_id, "wav").input]


def test_progress_is_written_per_stage(ctx: WorkerContext, tmp_path: Path) -> None:
    job_id = _new_job(ctx, tmp_path)
    with ctx.sessions() as session:
        attempt = job_store.claim(session, job_id, "w")
    assert attempt is not None
    with ctx.sessions() as session:
        pipeline.ProgressWriter(session, job_id, attempt)("inference", 0.5)
    job = _job(ctx, job_id)
    assert job.stage == "inference" and job.progress == pytest.approx(0.2 + 0.65 * 0.5)


def test_the_claim_is_the_first_progress_report(ctx: WorkerContext, tmp_path: Path) -> None:
    job_id = _new_job(ctx, tmp_path)
    with ctx.sessions() as session:
        job = job_store.claim_row(session, job_id, "w", stage=pipeline.FIRST_STAGE)
        assert job is not None and job.stage == "decoding"
        assert job_store.cancel(session, job_id)
        # Right after the claim, "decoding" at 0 is not written again: no round trip, so no cancel seen yet.
        pipeline.ProgressWriter(session, job_id, job.attempts, claimed=True)("decoding", 0.0)
        with pytest.raises(RunSuperseded):  # a writer that did not claim writes, and finds the cancel
            pipeline.ProgressWriter(session, job_id, job.attempts)("decoding", 0.0)


@pytest.fixture
def task_runtime(ctx: WorkerContext, monkeypatch: pytest.MonkeyPatch) -> WorkerContext:
    monkeypatch.setattr(runtime, "context", lambda: ctx)
    return ctx


@pytest.mark.parametrize(
    ("data", "ext"),
    [(b"this is text, not audio\n" * 20, "wav"), (b"RIFF\x10\x00\x00\x00WAVEfmt ", "wav")],
)
def test_bad_audio_fails_at_once_with_invalid_audio(
    task_runtime: WorkerContext, tmp_path: Path, data: bytes, ext: str
) -> None:
    job_id = _new_job(task_runtime, tmp_path, data, ext)
    result = tasks.transcribe_job.apply(args=[job_id])
    assert result.get() == "failed"
    job = _job(task_runtime, job_id)
    assert (job.status, job.error_code, job.attempts) == ("failed", "invalid_audio", 1)
    assert "take.wav" in job.error_message and "supported" in job.error_message
    assert task_runtime.storage.list() == [job_keys(job_id, ext).input]  # no results written


@pytest.mark.parametrize("declare_length", [True, False])
def test_a_recording_over_the_length_limit_fails_at_once_and_is_never_retried(
    task_runtime: WorkerContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, declare_length: bool
) -> None:
    limited = dataclasses.replace(task_runtime, max_audio_s=60)
    monkeypatch.setattr(runtime, "context", lambda: limited)
    if declare_length:  # refused from the header: nothing is decoded

        def no_decoding(*_: Any) -> None:
            raise AssertionError("decoded a recording its header says is too long")

        monkeypatch.setattr(piano_ai.audio, "_decode_any", no_decoding)
    bomb = silent_flac(tmp_path / "bomb.flac", seconds=120, declare_length=declare_length)
    job_id = _new_job(limited, tmp_path, bomb.read_bytes(), "flac")
    assert tasks.transcribe_job.apply(args=[job_id]).get() == "failed"
    job = _job(limited, job_id)
    assert (job.status, job.error_code, job.attempts) == ("failed", "audio_too_long", 1)
    assert "take.flac" in job.error_message and "60 s" in job.error_message
    assert limited.storage.list() == [job_keys(job_id, "flac").input]


def test_unexpected_errors_fail_the_job_with_internal_error(
    task_runtime: WorkerContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any, **__: Any) -> Transcribed:
        raise ZeroDivisionError("oops")

    monkeypatch.setattr(piano_ai.transcribe, "transcribe_blocks", broken)
    job_id = _new_job(task_runtime, tmp_path)
    assert tasks.transcribe_job.apply(args=[job_id]).get() == "failed"
    job = _job(task_runtime, job_id)
    assert job.error_code == "internal_error" and "ZeroDivisionError" in job.error_message


class FlakyStorage(LocalStorage):
    """Local storage whose result uploads fail the first ``failures`` times (a storage outage)."""

    def __init__(self, root: Path, failures: int) -> None:
        super().__init__(root)
        self.failures = failures

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        # The MIDI lands; the notes upload after it fails.
        if self.failures > 0 and key.endswith("notes.json"):
            self.failures -= 1
            raise StorageError("503 from storage")
        super().put_bytes(key, data, content_type)


@pytest.mark.parametrize(("failures", "status", "attempts"), [(2, "succeeded", 3), (99, "failed", 6)])
def test_transient_storage_errors_retry_then_succeed_or_give_up(
    ctx: WorkerContext,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fake_model: list,
    failures: int,
    status: str,
    attempts: int,
) -> None:
    flaky = WorkerContext(ctx.sessions, FlakyStorage(ctx.storage.root, failures), ctx.model_loader, ctx.name)
    monkeypatch.setattr(runtime, "context", lambda: flaky)
    job_id = _new_job(flaky, tmp_path)
    tasks.transcribe_job.apply(args=[job_id])  # eager: each retry runs at once (countdowns skipped)
    job = _job(flaky, job_id)
    assert (job.status, job.attempts) == (status, attempts)
    if status == "failed":
        assert job.error_code == "retries_exhausted"
        assert flaky.storage.list() == [job_keys(job_id, "wav").input]  # the half-written result is gone


class DatabaseDownStorage(LocalStorage):
    """Every result upload meets a dropped database connection (an outage longer than the retries)."""

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        raise OperationalError("SELECT 1", None, ConnectionError("server closed the connection"))

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        if key.endswith("/input.wav"):  # the upload was stored before the outage
            return super().put_bytes(key, data, content_type)
        raise OperationalError("SELECT 1", None, ConnectionError("server closed the connection"))


def test_a_database_failing_past_the_retries_leaves_the_job_queued_for_the_reconciler(
    ctx: WorkerContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_model: list
) -> None:
    down = WorkerContext(ctx.sessions, DatabaseDownStorage(ctx.storage.root), ctx.model_loader, ctx.name)
    monkeypatch.setattr(runtime, "context", lambda: down)
    job_id = _new_job(down, tmp_path)
    tasks.transcribe_job.apply(args=[job_id])
    job = _job(down, job_id)
    assert (job.status, job.error_code, job.attempts) == ("queued", None, 6)  # never failed for an outage


def test_a_job_that_keeps_killing_workers_fails_with_worker_lost(ctx: WorkerContext, tmp_path: Path) -> None:
    job_id = _new_job(ctx, tmp_path)
    with ctx.sessions() as session:
        for _ in range(pipeline.MAX_ATTEMPTS):  # each a run whose worker died
            job_store.claim(session, job_id, "doomed@host/1")
    assert run_job(job_id, ctx) == "failed"
    job = _job(ctx, job_id)
    assert (job.status, job.error_code, job.attempts) == ("failed", "worker_lost", pipeline.MAX_ATTEMPTS + 1)


def test_a_retried_job_runs_again_however_many_runs_it_had_before(
    ctx: WorkerContext, tmp_path: Path, fake_model: list
) -> None:
    job_id = _new_job(ctx, tmp_path)
    with ctx.sessions() as session:
        for _ in range(pipeline.MAX_ATTEMPTS):  # runs whose worker died
            job_store.claim(session, job_id, "doomed@host/1")
    assert run_job(job_id, ctx) == "failed"
    with ctx.sessions() as session:
        assert job_store.retry(session, job_id)
    # The retry starts the count again: the run goes ahead, under a number no earlier run had.
    assert run_job(job_id, ctx) == "succeeded"
    job = _job(ctx, job_id)
    assert (job.status, job.attempts, job.retried_at_attempt) == ("succeeded", pipeline.MAX_ATTEMPTS + 2, 9)


def test_runs_that_die_after_a_retry_still_meet_the_limit(ctx: WorkerContext, tmp_path: Path) -> None:
    job_id = _new_job(ctx, tmp_path)
    with ctx.sessions() as session:
        job_store.claim(session, job_id, "w@host/1")
        assert job_store.fail(session, job_id, 1, "invalid_audio", "bad")
        assert job_store.retry(session, job_id)
        for _ in range(pipeline.MAX_ATTEMPTS):
            job_store.claim(session, job_id, "doomed@host/1")
    assert run_job(job_id, ctx) == "failed"
    job = _job(ctx, job_id)
    assert (job.status, job.error_code, job.attempts) == ("failed", "worker_lost", pipeline.MAX_ATTEMPTS + 2)
    assert f"stopped its worker {pipeline.MAX_ATTEMPTS} times" in job.error_message
