"""The whole job path on real services: API -> Redis -> Celery workers (real model) -> Postgres + storage."""

import subprocess
import sys
import threading
import time
import uuid
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

import pytest
from service_testkit import VISIBILITY_TIMEOUT_S, Stack, long_clip, piano_clip

from piano_ai.db import jobs as job_store
from piano_ai.db import session as db_session
from piano_ai.db.models import utcnow
from piano_ai.midi_io import midi_to_notes
from piano_ai.storage import job_keys
from piano_ai.types import NoteParams

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CLI = Path(sys.executable).parent / "piano-ai"


def _submit(stack: Stack, path: Path, **kwargs: object) -> dict:
    with path.open("rb") as audio:
        response = stack.client.post("/v1/jobs", files={"file": (path.name, audio)}, **kwargs)
    assert response.status_code == 202, response.text
    return response.json()


def test_submit_poll_download_matches_the_cli(stack: Stack, tmp_path: Path) -> None:
    clip = piano_clip(tmp_path / "phrase.wav", pitches=(60, 64, 67, 72), seconds=3.0)
    job = _submit(stack, clip)
    done = stack.wait_for(job["id"])
    assert done["status"] == "succeeded", done
    assert (
        done["attempts"] == 1 and done["progress"] == 1.0 and done["audio_duration_s"] == pytest.approx(3.0)
    )
    assert done["started_at"] and done["finished_at"] and done["error"] is None
    midi = stack.client.get(done["links"]["midi"])
    assert midi.status_code == 200
    out = tmp_path / "cli"
    subprocess.run(  # a job makes no score by default: the same MIDI as a plain convert (the same pipeline)
        [str(CLI), "convert", str(clip), "--out-dir", str(out), "-q"],
        check=True,
        capture_output=True,
    )
    cli_midi = (out / "phrase.mid").read_bytes()
    assert midi.content == cli_midi
    (tmp_path / "api.mid").write_bytes(midi.content)
    notes = stack.client.get(done["links"]["notes"]).json()["notes"]
    assert len(notes) == done["note_count"] == len(midi_to_notes(tmp_path / "api.mid"))


def test_twenty_concurrent_submissions_all_succeed(stack: Stack, tmp_path: Path) -> None:
    clips = [piano_clip(tmp_path / f"c{i}.wav", pitches=(48 + i, 60 + i), seconds=1.0) for i in range(20)]
    ids: list[str] = []
    errors: list[BaseException] = []

    def submit(path: Path) -> None:
        try:
            ids.append(_submit(stack, path)["id"])
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=submit, args=(clip,)) for clip in clips]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(set(ids)) == 20
    finished = [stack.wait_for(job_id, timeout_s=300) for job_id in ids]
    assert [job["status"] for job in finished] == ["succeeded"] * 20
    assert {job["attempts"] for job in finished} == {1}
    workers = {job_row.worker.split("@")[0] for job_row in stack.rows() if job_row.id in ids}
    assert workers == {"w1", "w2"}  # both workers took jobs


def test_cancel_queued_and_running_jobs(stack: Stack, tmp_path: Path) -> None:
    long_audio = long_clip(tmp_path / "long.wav", seconds=200)
    running = [_submit(stack, long_audio, data={"score": "false"})["id"] for _ in range(2)]
    for job_id in running:
        stack.wait_for(job_id, ("running", "succeeded"))
    queued = _submit(stack, piano_clip(tmp_path / "short.wav"))["id"]
    answer = stack.client.post(f"/v1/jobs/{queued}/cancel")
    if answer.status_code == 409:  # both long jobs ended and it ran first: streaming made them that fast
        pytest.skip("the queued job ran before it could be canceled")
    canceled = answer.json()
    assert canceled["status"] == "canceled" and canceled["attempts"] == 0 and canceled["started_at"] is None
    response = stack.client.post(f"/v1/jobs/{running[0]}/cancel")
    if response.status_code == 409:  # it finished first: on a fast machine the race is lost, not the feature
        pytest.skip("the long job finished before it could be canceled")
    assert response.json()["status"] == "canceled"
    other = stack.wait_for(running[1], timeout_s=120)
    assert other["status"] == "succeeded"
    time.sleep(1.0)  # let the canceled run reach its next progress report
    job = stack.job(running[0])
    assert job["status"] == "canceled" and job["links"]["midi"] is None
    assert not stack.storage.exists(job_keys(running[0]).midi)
    assert stack.job(queued)["status"] == "canceled" and stack.job(queued)["attempts"] == 0


def test_idempotent_concurrent_submissions_make_one_job(stack: Stack, tmp_path: Path) -> None:
    clip = piano_clip(tmp_path / "same.wav", seconds=1.0)
    answers: list[dict] = []

    def submit() -> None:
        answers.append(_submit(stack, clip, headers={"Idempotency-Key": f"same-{tmp_path.name}"}))

    threads = [threading.Thread(target=submit) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({a["id"] for a in answers}) == 1
    job_id = answers[0]["id"]
    assert stack.wait_for(job_id)["status"] == "succeeded"
    assert sum(1 for row in stack.rows() if row.idempotency_key == f"same-{tmp_path.name}") == 1
    assert stack.storage.list(f"jobs/{job_id}/") == [  # no score: the job did not ask for one
        f"jobs/{job_id}/activations.npz",
        f"jobs/{job_id}/input.wav",
        f"jobs/{job_id}/notes.json",
        f"jobs/{job_id}/output.mid",
    ]


def test_bad_inputs_give_documented_errors_and_leave_nothing_behind(stack: Stack, tmp_path: Path) -> None:
    before_rows = {row.id for row in stack.rows()}
    before_files = set(stack.storage.list())
    cases = [
        ("empty.wav", b"", 422, "empty_upload"),
        ("text.wav", b"hello, I am not audio\n" * 5, 415, "unsupported_media_type"),
    ]
    for name, data, status, code in cases:
        response = stack.client.post("/v1/jobs", files={"file": (name, data)})
        assert (response.status_code, response.json()["code"]) == (status, code)
    big = b"RIFF" + b"\x00" * (16 * 1024 * 1024 + 1)
    response = stack.client.post("/v1/jobs", files={"file": ("big.wav", big)})
    assert (response.status_code, response.json()["code"]) == (413, "upload_too_large")
    assert {row.id for row in stack.rows()} == before_rows
    assert set(stack.storage.list()) == before_files
    # A truncated mp3 passes the cheap check; the worker's full decode fails the job with invalid_audio.
    wav = piano_clip(tmp_path / "t.wav", seconds=2.0)
    mp3 = tmp_path / "t.mp3"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(wav), str(mp3)], check=True)
    truncated = tmp_path / "truncated.mp3"
    truncated.write_bytes(mp3.read_bytes()[:400])
    job = stack.wait_for(_submit(stack, truncated)["id"])
    assert job["status"] == "failed" and job["error"]["code"] == "invalid_audio"
    assert "truncated.mp3" in job["error"]["message"]
    assert stack.storage.list(f"jobs/{job['id']}/") == [f"jobs/{job['id']}/input.mp3"]  # no results


def _kill_mid_job(stack: Stack, tmp_path: Path, names: set[str], timeout_s: float) -> None:
    """Submit a long job, kill -9 the worker running it, check another of ``names`` finishes it once."""
    job_id = _submit(stack, long_clip(tmp_path / "victim.wav", seconds=200), data={"score": "false"})["id"]
    stack.wait_for(job_id, ("running",), timeout_s=60)
    victim = next(row for row in stack.rows() if row.id == job_id).worker.split("@")[0]
    stack.kill_worker(victim)  # SIGKILL to the worker and its pool process
    done = stack.wait_for(job_id, timeout_s=timeout_s)
    assert done["status"] == "succeeded" and done["attempts"] == 2, done
    final_row = next(row for row in stack.rows() if row.id == job_id)
    assert final_row.worker.split("@")[0] == (names - {victim}).pop()
    assert stack.storage.list(f"jobs/{job_id}/") == sorted(
        [f"jobs/{job_id}/{name}" for name in ("activations.npz", "input.wav", "notes.json", "output.mid")]
    )
    stack.start_worker(victim)


def test_kill_9_of_a_worker_mid_job_another_finishes_it(stack: Stack, tmp_path: Path) -> None:
    """Recovered by the live worker's orphan check (3 missed heartbeats), long before Redis would."""
    _kill_mid_job(stack, tmp_path, {"w1", "w2"}, timeout_s=VISIBILITY_TIMEOUT_S - 10)


def test_kill_9_redelivered_by_redis_alone(stack: Stack, tmp_path: Path) -> None:
    """Without the orphan check, Redis hands the unacknowledged job to another worker after its visibility
    timeout (acks_late), and the attempt number fences the dead run."""
    for name in ("w1", "w2"):
        stack.kill_worker(name)
    redis_only = {"PIANO_AI_REQUEUE_ORPHANS": "false", "PIANO_AI_VISIBILITY_TIMEOUT_S": "12"}
    for name in ("r1", "r2"):
        stack.start_worker(name, **redis_only)
    stack.wait_workers_ready(["r1", "r2"])
    try:
        _kill_mid_job(stack, tmp_path, {"r1", "r2"}, timeout_s=12 + 90)
    finally:
        # A worker left with the 12 s visibility timeout hands any job running longer than that (a short
        # clip under load) to a second worker: later tests get the stack's usual workers back.
        for name in list(stack.workers):
            stack.kill_worker(name)
        for name in ("w1", "w2"):
            stack.start_worker(name)
        stack.wait_workers_ready(["w1", "w2"])


def _stored_row(stack: Stack, tmp_path: Path, sent_minutes_ago: float | None) -> str:
    """A job's upload and row as the API writes them, with no message: the send recorded that long ago, or
    none (None). Returns its id."""
    clip = piano_clip(tmp_path / "lost.wav", pitches=(55, 62))
    job_id = str(uuid.uuid4())
    keys = job_keys(job_id, "wav")
    with clip.open("rb") as audio:
        stack.storage.put_stream(keys.input, audio, "audio/wav")
    with db_session.get_session_factory()() as session:
        sent = (
            {}
            if sent_minutes_ago is None
            else {"enqueued_at": utcnow() - timedelta(minutes=sent_minutes_ago)}
        )
        job_store.create_job(
            session,
            id=job_id,
            filename=clip.name,
            content_type="audio/wav",
            size_bytes=clip.stat().st_size,
            params=asdict(NoteParams()),
            input_key=keys.input,
            **sent,
        )
    return job_id


def test_a_job_never_enqueued_is_sent_by_a_worker(stack: Stack, tmp_path: Path) -> None:
    """A queued row with no send recorded (a retry while the broker was down; rows from before the insert
    recorded the send) and no message: a live worker's sweep (PIANO_AI_RESEND_UNSENT_AFTER_S, 10 s here)
    sends it. Jobs the API did enqueue are left alone."""
    sent = _submit(stack, piano_clip(tmp_path / "sent.wav"))["id"]
    job_id = _stored_row(stack, tmp_path, sent_minutes_ago=None)
    done = stack.wait_for(job_id, timeout_s=60)
    assert done["status"] == "succeeded" and done["attempts"] == 1 and done["note_count"] > 0
    assert stack.wait_for(sent)["attempts"] == 1  # never sent twice
    rows = {row.id: row for row in stack.rows()}
    assert rows[sent].enqueued_at is not None and rows[job_id].enqueued_at is not None


def test_a_job_whose_api_died_before_the_send_is_sent_by_a_worker(stack: Stack, tmp_path: Path) -> None:
    """The API stored the upload and committed the row, which records the send, then died before sending:
    once the row is PIANO_AI_RESEND_LOST_AFTER_S old (120 s; the row here says 10 minutes) a live worker's
    sweep finds no message for it in the broker and sends it, once."""
    job_id = _stored_row(stack, tmp_path, sent_minutes_ago=10)
    done = stack.wait_for(job_id, timeout_s=60)
    assert done["status"] == "succeeded" and done["attempts"] == 1 and done["note_count"] > 0
    logs = "".join(path.read_text() for path in stack.root.glob("w*.log"))
    assert logs.count(f"job {job_id}: queued since") == 1
