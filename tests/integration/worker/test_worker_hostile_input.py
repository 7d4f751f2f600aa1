"""Hostile uploads (issue 13) on the real path: API -> Redis -> worker processes -> Postgres + storage."""

import subprocess
from pathlib import Path

import pytest
import soundfile as sf
from hostile_uploads import cut, mp3_without_xing, playlist_to, silent_flac
from service_testkit import MAX_AUDIO_S, Stack, piano_clip

from piano_ai.db import jobs as job_store
from piano_ai.db import session as db_session
from piano_ai.storage import job_keys
from piano_api.queue import enqueue_transcription

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _submit(stack: Stack, name: str, data: bytes) -> dict:
    response = stack.client.post("/v1/jobs", files={"file": (name, data)})
    assert response.status_code == 202, response.text
    return response.json()


def _queue_past_the_api(stack: Stack, job_id: str, filename: str, data: bytes) -> None:
    """Store, insert and enqueue a job as an API with no length limit would have."""
    keys = job_keys(job_id, "flac")
    stack.storage.put_bytes(keys.input, data)
    params = {"onset_threshold": 0.5, "frame_threshold": 0.3, "offset_threshold": 0.5, "min_note_ms": 30}
    with db_session.get_session_factory()() as session:
        job_store.create_job(
            session, id=job_id, filename=filename, size_bytes=len(data), params=params, input_key=keys.input
        )
    enqueue_transcription(job_id)


def _workers_alive(stack: Stack) -> None:
    for name, proc in stack.workers.items():
        assert proc.poll() is None, f"worker {name} died: see {stack.root / (name + '.log')}"


def test_a_playlist_dressed_as_mp3_never_reads_another_jobs_upload(stack: Stack, tmp_path: Path) -> None:
    audio, rate = sf.read(piano_clip(tmp_path / "v.wav", seconds=2.0))
    sf.write(tmp_path / "v.mp3", audio, rate)
    victim = stack.wait_for(_submit(stack, "private.mp3", (tmp_path / "v.mp3").read_bytes())["id"])
    assert victim["status"] == "succeeded"
    their_upload = stack.storage.root / job_keys(victim["id"], "mp3").input
    evil = playlist_to(their_upload, id3=True)
    assert len(evil) < 200
    job = stack.wait_for(_submit(stack, "evil.mp3", evil)["id"])
    assert (job["status"], job["error"]["code"]) == ("failed", "invalid_audio"), job
    assert job["note_count"] is None and job["links"]["notes"] is None
    assert stack.storage.list(f"jobs/{job['id']}/") == [f"jobs/{job['id']}/input.mp3"]


def test_a_duration_bomb_is_refused_at_upload(stack: Stack, tmp_path: Path) -> None:
    before = set(stack.storage.list())
    bomb = silent_flac(tmp_path / "bomb.flac", seconds=MAX_AUDIO_S + 100).read_bytes()
    assert len(bomb) < 100_000
    response = stack.client.post("/v1/jobs", files={"file": ("bomb.flac", bomb)})
    assert (response.status_code, response.json()["code"]) == (413, "audio_too_long")
    assert set(stack.storage.list()) == before


def test_a_duration_bomb_past_the_api_fails_at_once_in_the_worker(stack: Stack, tmp_path: Path) -> None:
    """Two ways past the upload check: a header that leaves the length out, and a job queued before
    the limit was lowered (or by an API with a higher one)."""
    unknown = silent_flac(tmp_path / "u.flac", seconds=MAX_AUDIO_S + 100, declare_length=False)
    streamed = _submit(stack, "streamed.flac", unknown.read_bytes())["id"]
    declared = f"bomb-{streamed[:8]}"
    bomb = silent_flac(tmp_path / "d.flac", seconds=MAX_AUDIO_S + 100).read_bytes()
    _queue_past_the_api(stack, declared, "declared.flac", bomb)
    for job_id, name in ((streamed, "streamed.flac"), (declared, "declared.flac")):
        job = stack.wait_for(job_id, timeout_s=60)
        assert (job["status"], job["error"]["code"], job["attempts"]) == ("failed", "audio_too_long", 1), job
        assert name in job["error"]["message"] and f"{MAX_AUDIO_S} s" in job["error"]["message"]
    _workers_alive(stack)


def test_a_truncated_mp3_without_a_xing_header_fails_the_job(stack: Stack, tmp_path: Path) -> None:
    whole = mp3_without_xing(tmp_path / "take.mp3", seconds=20)
    job = stack.wait_for(_submit(stack, "cut.mp3", cut(whole, tmp_path / "cut.mp3", 0.5).read_bytes())["id"])
    assert (job["status"], job["error"]["code"]) == ("failed", "invalid_audio"), job
    assert "truncated" in job["error"]["message"] and "cut.mp3" in job["error"]["message"]
    assert stack.wait_for(_submit(stack, "take.mp3", whole.read_bytes())["id"])["status"] == "succeeded"


def test_raw_aac_named_mp3_is_transcribed_as_aac(stack: Stack, tmp_path: Path) -> None:
    """An ADTS stream starts with the mp3 sync word: sniffed as mp3 it was stored as input.mp3, and the
    worker's libsndfile decoded a few frames of noise as Layer II and the job "succeeded" on them."""
    wav = piano_clip(tmp_path / "take.wav", pitches=(55, 62, 67), seconds=3.0)
    adts = tmp_path / "take.aac"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(wav), "-c:a", "aac", "-ac", "1", "-b:a", "96k",
         "-f", "adts", str(adts)],
        check=True,
    )  # fmt: skip
    jobs = [_submit(stack, "take.wav", wav.read_bytes()), _submit(stack, "take.mp3", adts.read_bytes())]
    done = [stack.wait_for(job["id"]) for job in jobs]
    assert [job["status"] for job in done] == ["succeeded", "succeeded"], done
    pitches = [{n["pitch"] for n in stack.client.get(job["links"]["notes"]).json()["notes"]} for job in done]
    assert all(found >= {55, 62, 67} for found in pitches), pitches
    assert stack.storage.list(f"jobs/{done[1]['id']}/input")[0].endswith("/input.aac")
