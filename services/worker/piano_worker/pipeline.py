"""One job run: claim the row, decode -> features -> model -> notes (-> score), store MIDI, notes, the
model's outputs (to decode again) and the MusicXML, mark succeeded.

Celery-free so it can be tested directly; piano_worker.tasks wraps it with the retry/failure policy.
"""

import logging
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from piano_ai.db import jobs as job_store
from piano_ai.db.models import Job, JobStatus
from piano_ai.storage import Storage, job_keys
from piano_ai.types import FloatArray, Note, NoteParams
from piano_worker.scratch import scratch_prefix

logger = logging.getLogger(__name__)

# Share of the overall 0..1 progress each stage covers: (start, end).
STAGE_SPANS = {
    "decoding": (0.0, 0.1),
    "features": (0.1, 0.2),
    "inference": (0.2, 0.85),
    "postprocessing": (0.85, 0.9),
    "uploading": (0.9, 1.0),
}
# ... when the job makes a score: beat tracking costs about 40 times the transcription (docs/score.md).
SCORE_STAGE_SPANS = {
    "decoding": (0.0, 0.02),
    "features": (0.02, 0.04),
    "inference": (0.04, 0.12),
    "postprocessing": (0.12, 0.14),
    "score": (0.14, 0.96),
    "uploading": (0.96, 1.0),
}
PROGRESS_INTERVAL_S = 0.5  # write progress at most this often within a stage, seconds
MUSICXML_TYPE = "application/vnd.recordare.musicxml+xml"  # the score's media type (IANA)
MAX_ATTEMPTS = 8  # runs of one job since its last retry (redeliveries) before it fails with worker_lost
STAGE_CHANGE_INTERVAL_S = 0.25  # ... and a new stage at most this often (short jobs skip some), seconds
FIRST_STAGE = "decoding"  # recorded by the claim itself


class RunSuperseded(Exception):
    """This run no longer owns the job (canceled, deleted, or claimed by a newer attempt): stop quietly."""


@dataclass
class WorkerContext:
    """What a run needs besides the job id; built once per worker process."""

    sessions: sessionmaker[Session]
    storage: Storage
    model_loader: Callable[[], Any]  # returns the loaded Transcriber (cached by the caller)
    name: str  # this worker's name, recorded on the job
    max_audio_s: float | None = None  # longer recordings fail with audio_too_long (settings.max_audio_s)
    lease_s: float = job_store.DEFAULT_LEASE_S  # a run's lease after each renewal (settings.job_lease_s)


class ProgressWriter:
    """A ProgressCallback writing stage and overall progress to the job row, throttled.

    Raises RunSuperseded as soon as the row says this run should stop: that is how a cancel takes
    effect at the next progress report.
    """

    def __init__(
        self,
        session: Session,
        job_id: str,
        attempt: int,
        lease_s: float = job_store.DEFAULT_LEASE_S,
        spans: dict[str, tuple[float, float]] = STAGE_SPANS,
        claimed: bool = False,
    ) -> None:
        """``claimed``: the claim just wrote FIRST_STAGE at 0 (the throttle counts it as a write)."""
        self.session, self.job_id, self.attempt, self.lease_s = session, job_id, attempt, lease_s
        self.spans = spans
        self.stage: str | None = FIRST_STAGE if claimed else None
        self.last_write = time.monotonic() if claimed else 0.0

    def __call__(self, stage: str, fraction: float) -> None:
        start, end = self.spans.get(stage, (0.0, 1.0))
        overall = start + (end - start) * min(max(fraction, 0.0), 1.0)
        now = time.monotonic()
        since = now - self.last_write
        if since < (STAGE_CHANGE_INTERVAL_S if stage != self.stage else PROGRESS_INTERVAL_S):
            return
        self.stage, self.last_write = stage, now
        reported = job_store.report_progress(
            self.session, self.job_id, self.attempt, stage, round(overall, 4), self.lease_s
        )
        if not reported:
            raise RunSuperseded(f"job {self.job_id}: attempt {self.attempt} no longer owns the job")


@dataclass
class RunState:
    """Filled in by run_job so the caller's error handling can act for this run's attempt only."""

    attempt: int | None = None


def run_job(job_id: str, ctx: WorkerContext, state: RunState | None = None) -> str:
    """Run job ``job_id`` once; returns "succeeded" or "skipped" (already terminal).

    Raises RunSuperseded, domain errors (PianoAIError: bad input), StorageError / database errors
    (transient) and anything unexpected; piano_worker.tasks decides what each means for the job.
    """
    state = state if state is not None else RunState()
    # One session (one pooled connection) for the whole run: claim, progress reports, result.
    with ctx.sessions() as session:
        # The claim is the first progress report too ("decoding"), in the same round trip as the read.
        job = job_store.claim_row(session, job_id, ctx.name, ctx.lease_s, stage=FIRST_STAGE)
        attempt = state.attempt = job.attempts if job is not None else None
        if attempt is None or job is None:
            logger.info("job %s: not queued or running (finished, canceled or deleted); skipping", job_id)
            return "skipped"
        runs = job_store.runs_since_retry(job)
        if runs > MAX_ATTEMPTS:
            # Redelivered again and again since its last retry: its runs keep killing their worker (out of
            # memory, a crash). A retry starts the count again; ``attempt`` still fences older runs.
            message = f"the job stopped its worker {runs - 1} times; the recording may be too long"
            logger.error("job %s: %s", job_id, message)
            job_store.fail(session, job_id, attempt, "worker_lost", message)
            return "failed"
        logger.info("job %s: attempt %d started on %s", job_id, attempt, ctx.name)
        keys = job_keys(job_id, PurePath(job.input_key).suffix.lstrip(".") or "bin")
        try:
            with tempfile.TemporaryDirectory(prefix=scratch_prefix(job_id)) as tmp:
                spans = SCORE_STAGE_SPANS if job.want_score else STAGE_SPANS
                progress = ProgressWriter(session, job_id, attempt, ctx.lease_s, spans, claimed=True)
                results = _transcribe_and_store(ctx, job, Path(tmp), progress)
            if not job_store.succeed(session, job_id, attempt, **results):
                raise RunSuperseded(f"job {job_id}: attempt {attempt} finished but no longer owns the job")
        except RunSuperseded:
            _remove_orphaned_results(ctx, job_id, *keys.results)
            raise
    logger.info("job %s: attempt %d succeeded (%d notes)", job_id, attempt, results["note_count"])
    return "succeeded"


def _transcribe_and_store(
    ctx: WorkerContext, job: Job, tmp: Path, progress: ProgressWriter
) -> dict[str, Any]:
    from piano_ai import activations
    from piano_ai.audio import declared_s, decode, decode_blocks
    from piano_ai.constants import SAMPLE_RATE
    from piano_ai.midi_io import midi_bytes, notes_to_json
    from piano_ai.transcribe import transcribe_blocks

    keys = job_keys(job.id, PurePath(job.input_key).suffix.lstrip(".") or "bin")
    progress("decoding", 0.0)
    source = ctx.storage.local_path(job.input_key) or ctx.storage.download(
        job.input_key, tmp / PurePath(job.input_key).name
    )
    note_params = NoteParams(**job.params)
    if job.want_score:  # the beat tracker reads the whole recording: it is decoded into memory once
        audio = decode(source, name=job.filename, max_s=ctx.max_audio_s)
        blocks: Iterable[FloatArray] = [audio]
        expected_s: float | None = audio.size / SAMPLE_RATE
    else:  # decoding, features, model and notes block by block: memory does not grow with the recording
        blocks = decode_blocks(source, name=job.filename, max_s=ctx.max_audio_s)
        expected_s = declared_s(source)
    model = ctx.model_loader()
    found = transcribe_blocks(blocks, model, note_params, progress, expected_s, keep_activations=True)
    notes, audio_s, sustain = found.notes, found.audio_s, found.sustain
    midi, results = midi_bytes(notes, sustain=sustain), {}
    if job.want_score:
        midi, musicxml, quantized, results = _score(job, audio, notes, midi, progress)
        if musicxml:
            ctx.storage.put_bytes(
                keys.score_midi, quantized, "audio/midi"
            )  # before the key that announces it
            ctx.storage.put_bytes(keys.score, musicxml, MUSICXML_TYPE)
            results["score_key"] = keys.score
    progress("uploading", 0.0)
    # The model's outputs first: a job that succeeded can always be decoded again (POST .../decode).
    assert found.activations is not None
    ctx.storage.put_bytes(keys.activations, activations.dumps(found.activations), "application/octet-stream")
    progress("uploading", 0.4)
    ctx.storage.put_bytes(keys.midi, midi, "audio/midi")
    progress("uploading", 0.7)
    notes_json = notes_to_json(notes, sustain, note_params.pedal)
    ctx.storage.put_bytes(keys.notes, notes_json.encode(), "application/json")
    progress("uploading", 1.0)
    return results | {
        "midi_key": keys.midi,
        "notes_key": keys.notes,
        "note_count": len(notes),
        "audio_duration_s": round(audio_s, 3),
    }


def _score(
    job: Job, audio: FloatArray, notes: list[Note], midi: bytes, progress: ProgressWriter
) -> tuple[bytes, bytes, bytes, dict[str, Any]]:
    """The score stage: (MIDI on the tempo map, MusicXML, quantized MIDI, {"score": summary}). It never fails
    the job: when the score cannot be made at all, the job keeps its plain MIDI and its results say why."""
    from piano_ai.score.pipeline import score_audio

    progress("score", 0.0)
    title = PurePath(job.filename).stem or "Transcription"
    try:
        score = score_audio(audio, notes, title, midi, progress)
    except RunSuperseded:
        raise
    except Exception as exc:
        logger.exception("job %s: the score could not be made; the job keeps its MIDI", job.id)
        note = f"no score: {type(exc).__name__}: {exc}"[:500]
        return midi, b"", b"", {"score": {"found": False, "note": note}}
    if score.beats.note:
        logger.info("job %s: %s", job.id, score.beats.note)
    return score.midi, score.musicxml, score.quantized_midi, {"score": score.summary()}


def _remove_orphaned_results(ctx: WorkerContext, job_id: str, *result_keys: str) -> None:
    """Delete result files this run may have written, unless another attempt owns them now."""
    with ctx.sessions() as session:
        job = job_store.get_job(session, job_id)
    if job is not None and job.status not in (JobStatus.CANCELED.value, JobStatus.FAILED.value):
        return  # succeeded, or queued/running again under a newer attempt that writes the same keys
    for key in result_keys:
        ctx.storage.delete(key)
    if job is None:  # deleted while running: the upload is gone from the row, remove leftovers too
        ctx.storage.delete_prefix(job_keys(job_id).prefix)
