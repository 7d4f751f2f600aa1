"""POST /v1/jobs/{id}/retry and GET /v1/jobs/{id}/audio on SQLite + local storage (the queue is recorded)."""

from collections.abc import Callable

import pytest
from service_testkit import ApiHarness

from piano_ai.db import jobs as job_store
from piano_ai.db.session import get_session_factory


def _fail(job_id: str) -> None:
    with get_session_factory()() as session:
        attempt = job_store.claim(session, job_id, "w1@host")
        assert job_store.fail(session, job_id, attempt, "invalid_audio", "file is not decodable audio")


def test_retry_queues_a_failed_job_again_with_the_same_upload(
    api: ApiHarness, submit: Callable[..., dict]
) -> None:
    job = submit()
    _fail(job["id"])
    response = api.client.post(f"/v1/jobs/{job['id']}/retry")
    assert response.status_code == 202, response.text
    again = response.json()
    assert again["status"] == "queued" and again["error"] is None and again["finished_at"] is None
    assert again["attempts"] == 1  # the next claim makes it 2
    assert again["id"] == job["id"] and api.enqueued == [job["id"], job["id"]]
    assert api.storage.list() == [f"jobs/{job['id']}/input.wav"]  # the same upload, kept
    with get_session_factory()() as session:
        assert job_store.claim(session, job["id"], "w2@host") == 2
    assert api.client.get(f"/v1/jobs/{job['id']}").json()["worker"] == "w2@host"


def test_retry_of_a_canceled_job(api: ApiHarness, submit: Callable[..., dict]) -> None:
    job = submit()
    assert api.client.post(f"/v1/jobs/{job['id']}/cancel").json()["status"] == "canceled"
    again = api.client.post(f"/v1/jobs/{job['id']}/retry").json()
    assert again["status"] == "queued" and again["canceled_at"] is None


@pytest.mark.parametrize("status", ["queued", "running", "succeeded"])
def test_retry_is_409_unless_failed_or_canceled(
    api: ApiHarness, submit: Callable[..., dict], status: str
) -> None:
    job = submit()
    with get_session_factory()() as session:
        if status != "queued":
            attempt = job_store.claim(session, job["id"], "w1")
            assert attempt is not None
        if status == "succeeded":
            job_store.succeed(session, job["id"], attempt, midi_key="m", notes_key="n", note_count=0)
    response = api.client.post(f"/v1/jobs/{job['id']}/retry")
    assert response.status_code == 409
    assert response.json()["code"] == "job_not_retryable" and status in response.json()["detail"]
    assert api.enqueued == [job["id"]]  # nothing sent again


def test_retry_of_a_missing_job_is_404(api: ApiHarness) -> None:
    assert api.client.post("/v1/jobs/nope/retry").json()["code"] == "job_not_found"


def test_retry_with_the_queue_down_leaves_the_job_for_the_sweep(
    api: ApiHarness, submit: Callable[..., dict]
) -> None:
    job = submit()
    _fail(job["id"])
    api.fail_enqueue = True
    response = api.client.post(f"/v1/jobs/{job['id']}/retry")
    assert response.status_code == 202 and response.json()["status"] == "queued"
    with get_session_factory()() as session:
        # Unsent: the worker's sweep (claim_unsent) picks it up and sends it.
        assert job_store.claim_unsent(session, older_than_s=0) == [job["id"]]


def test_audio_serves_the_upload_itself_with_its_content_type(
    api: ApiHarness, submit: Callable[..., dict], wav_bytes: bytes
) -> None:
    job = submit(name="my take.wav")
    assert job["links"]["audio"] == f"/v1/jobs/{job['id']}/audio"
    response = api.client.get(job["links"]["audio"])
    assert response.status_code == 200
    assert response.content == wav_bytes
    assert response.headers["content-type"] == "audio/wav"
    assert response.headers["content-disposition"].startswith("inline")
    part = api.client.get(job["links"]["audio"], headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.content == wav_bytes[:100]  # browsers seek with ranges


def test_audio_is_404_after_delete_and_410_when_the_file_is_gone(
    api: ApiHarness, submit: Callable[..., dict]
) -> None:
    job = submit()
    api.storage.delete(f"jobs/{job['id']}/input.wav")
    gone = api.client.get(f"/v1/jobs/{job['id']}/audio")
    assert gone.status_code == 410 and gone.json()["code"] == "upload_missing"
    _fail(job["id"])
    assert api.client.delete(f"/v1/jobs/{job['id']}").status_code == 204
    missing = api.client.get(f"/v1/jobs/{job['id']}/audio")
    assert missing.status_code == 404 and missing.json()["code"] == "job_not_found"
