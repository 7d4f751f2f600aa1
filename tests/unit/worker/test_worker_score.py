"""The worker's score stage on SQLite + local storage, with the model stage faked: the MusicXML beside the
MIDI, the score's results on the row, the ``score`` option, and a score that fails never failing the job."""

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import music21
import numpy as np
import pretty_midi
import pytest
import soxr
from service_testkit import piano_clip

import piano_ai.transcribe
from piano_ai.constants import SAMPLE_RATE
from piano_ai.db import jobs as job_store
from piano_ai.db.migrate import upgrade
from piano_ai.db.session import make_engine, make_session_factory
from piano_ai.storage import LocalStorage, job_keys
from piano_ai.types import Note
from piano_worker.pipeline import WorkerContext, run_job

PARAMS = {"onset_threshold": 0.5, "frame_threshold": 0.3, "offset_threshold": 0.5, "min_note_ms": 30}
CHORD = [Note(60, 0.1, 1.6, 90), Note(64, 0.1, 1.6, 80)]  # one onset: no steady beat, no tracker run
SCALE = [Note(60 + i, 0.25 * i, 0.25 * i + 0.2, 80) for i in range(8)]  # enough onsets to track


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[WorkerContext]:
    url = f"sqlite:///{tmp_path}/jobs.db"
    upgrade(url)
    engine = make_engine(url)
    yield WorkerContext(
        make_session_factory(engine), LocalStorage(tmp_path / "storage"), lambda: "m", "w@h/1"
    )
    engine.dispose()


def _run(
    ctx: WorkerContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, notes: list[Note], **row: Any
) -> Any:
    """A job of a 2 s clip whose transcription is ``notes``, run once; returns its row."""

    def transcribe_blocks(blocks: Any, *_: Any, **__: Any) -> piano_ai.transcribe.Transcribed:
        audio_s = sum(len(b) for b in blocks) / SAMPLE_RATE
        return piano_ai.transcribe.Transcribed(notes, audio_s, [], {"onset": np.zeros((63, 88), np.uint8)})

    monkeypatch.setattr(piano_ai.transcribe, "transcribe_blocks", transcribe_blocks)
    row.setdefault("want_score", True)
    keys = job_keys("job-1", "wav")
    ctx.storage.put_bytes(keys.input, piano_clip(tmp_path / "c.wav").read_bytes())
    with ctx.sessions() as session:
        job_store.create_job(
            session,
            id="job-1",
            filename="Prelude.wav",
            size_bytes=1,
            params=PARAMS,
            input_key=keys.input,
            **row,
        )
    assert run_job("job-1", ctx) == "succeeded"
    with ctx.sessions() as session:
        return job_store.get_job(session, "job-1")


def test_a_job_asked_for_a_score_makes_it(
    ctx: WorkerContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = _run(ctx, tmp_path, monkeypatch, CHORD)
    keys = job_keys("job-1")
    assert job.want_score and job.score_key == keys.score
    assert ctx.storage.list("jobs/job-1/") == sorted(
        [
            keys.input.replace(".bin", ".wav"),
            keys.midi,
            keys.notes,
            keys.activations,
            keys.score,
            keys.score_midi,
        ]
    )
    assert ctx.storage.get_bytes(keys.score_midi).startswith(b"MThd")  # the quantized MIDI
    score = music21.converter.parseData(ctx.storage.get_bytes(keys.score).decode())
    assert len(score.parts) == 2 and score.metadata.bestTitle == "Prelude"
    assert job.score["found"] is False and job.score["note"] == "no steady beat: only 1 distinct note onsets"
    assert job.score["time_signature"] == "4/4" and job.score["tempo_bpm"] == 120.0
    assert job.score["beats"][:3] == [0.0, 0.5, 1.0] and job.score["downbeats"][:2] == [0.0, 2.0]
    json.dumps(job.score)  # stored as JSON


def test_score_false_skips_the_stage(
    ctx: WorkerContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = _run(ctx, tmp_path, monkeypatch, CHORD, want_score=False)
    assert job.score is None and job.score_key is None
    assert not ctx.storage.exists(job_keys("job-1").score)


def test_a_failing_tracker_still_gives_a_score_with_a_note(
    ctx: WorkerContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("resampler broke")

    monkeypatch.setattr(soxr, "resample", broken)  # madmom's input: the tracker itself fails
    job = _run(ctx, tmp_path, monkeypatch, SCALE)
    assert job.status == "succeeded" and job.score_key is not None
    assert job.score["found"] is False
    assert job.score["note"] == "beat tracking failed (RuntimeError): barred at 120 bpm"
    midi = pretty_midi.PrettyMIDI(io.BytesIO(ctx.storage.get_bytes(job.midi_key)))
    assert len(midi.instruments[0].notes) == len(SCALE)


def test_a_score_that_cannot_be_written_leaves_the_job_its_midi(
    ctx: WorkerContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from music21.musicxml import m21ToXml

    def broken(self: Any) -> bytes:
        raise ValueError("cannot export")

    monkeypatch.setattr(m21ToXml.GeneralObjectExporter, "parse", broken)
    job = _run(ctx, tmp_path, monkeypatch, CHORD)
    assert job.status == "succeeded" and job.note_count == 2
    assert job.score_key is None and not ctx.storage.exists(job_keys("job-1").score)
    assert job.score == {"found": False, "note": "no score: ValueError: cannot export"}
    assert ctx.storage.get_bytes(job.midi_key).startswith(b"MThd")
