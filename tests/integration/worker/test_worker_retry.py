"""Retry on the real path: a job a real worker failed runs again (a new attempt on the same upload) after
POST /v1/jobs/{id}/retry: API -> Redis -> worker process -> Postgres + storage."""

from pathlib import Path

import pytest
from hostile_uploads import cut, mp3_without_xing
from service_testkit import Stack

from piano_ai.storage import job_keys
from piano_worker.pipeline import MAX_ATTEMPTS

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_failed_job_runs_again_on_its_upload_after_a_retry(stack: Stack, tmp_path: Path) -> None:
    whole = mp3_without_xing(tmp_path / "take.mp3", seconds=4)
    truncated = cut(whole, tmp_path / "cut.mp3", 0.5).read_bytes()
    response = stack.client.post("/v1/jobs", files={"file": ("take.mp3", truncated)})
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    failed = stack.wait_for(job_id)
    assert (failed["status"], failed["error"]["code"], failed["attempts"]) == ("failed", "invalid_audio", 1)
    assert failed["worker"] is not None

    retried = stack.client.post(f"/v1/jobs/{job_id}/retry")
    assert retried.status_code == 202, retried.text
    # The answer shows the job as the retry left it, unless a worker already took it (this upload fails
    # in milliseconds, so on a busy machine it may already have failed again).
    assert retried.json()["status"] in ("queued", "running", "failed")
    if retried.json()["status"] == "queued":
        assert retried.json()["error"] is None
    again = stack.wait_for(job_id)
    # A worker ran it again: the same upload, the same verdict, one attempt more.
    assert (again["status"], again["error"]["code"], again["attempts"]) == ("failed", "invalid_audio", 2)

    # The upload is read afresh by each attempt: once the stored file is whole, the retry succeeds.
    stack.storage.put_bytes(job_keys(job_id, "mp3").input, whole.read_bytes())
    assert stack.client.post(f"/v1/jobs/{job_id}/retry").status_code == 202
    done = stack.wait_for(job_id)
    assert (done["status"], done["error"], done["attempts"]) == ("succeeded", None, 3), done
    assert done["started_at"] >= done["enqueued_at"] >= done["created_at"]
    assert stack.client.get(f"/v1/jobs/{job_id}/audio").content == whole.read_bytes()
    assert stack.client.post(f"/v1/jobs/{job_id}/retry").status_code == 409  # succeeded: nothing to retry


def test_retries_past_the_limit_on_dead_runs_still_run_the_job(stack: Stack, tmp_path: Path) -> None:
    """The limit on runs (MAX_ATTEMPTS) counts the runs since the last retry: an operator may retry a job
    any number of times, and each retry is a real run with a number of its own, never an instant
    worker_lost."""
    whole = mp3_without_xing(tmp_path / "again.mp3", seconds=3)
    truncated = cut(whole, tmp_path / "again-cut.mp3", 0.5).read_bytes()
    response = stack.client.post("/v1/jobs", files={"file": ("again.mp3", truncated)})
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    assert stack.wait_for(job_id)["error"]["code"] == "invalid_audio"
    for attempt in range(2, MAX_ATTEMPTS + 3):
        assert stack.client.post(f"/v1/jobs/{job_id}/retry").status_code == 202
        again = stack.wait_for(job_id)
        verdict = (again["status"], again["error"]["code"], again["attempts"])
        assert verdict == ("failed", "invalid_audio", attempt)

    stack.storage.put_bytes(job_keys(job_id, "mp3").input, whole.read_bytes())
    assert stack.client.post(f"/v1/jobs/{job_id}/retry").status_code == 202
    done = stack.wait_for(job_id)
    assert (done["status"], done["attempts"]) == ("succeeded", MAX_ATTEMPTS + 3), done
    assert next(row for row in stack.rows() if row.id == job_id).retried_at_attempt == MAX_ATTEMPTS + 2
