"""Storage that cannot be written (issue 13, faults): every endpoint that writes answers 503
storage_unavailable with Retry-After and changes nothing, and /readyz says "storage": "error" without the
folder's path. The failure is real: the storage folder is replaced by a plain file, as when a volume is gone.
"""

from collections.abc import Callable

from fastapi.testclient import TestClient
from service_testkit import ApiHarness, assert_storage_unavailable, clear_service_caches, storage_gone
from test_api_decode import finish_with_outputs, two_notes

from piano_ai.storage import job_keys
from piano_ai.types import NoteParams


def fresh_app(api: ApiHarness) -> TestClient:
    """Another API app on the harness's job store, storage and key (enqueued ids go to the harness)."""
    from piano_api.deps import get_enqueue
    from piano_api.main import create_app

    app = create_app()
    app.dependency_overrides[get_enqueue] = lambda: api.enqueued.append
    return TestClient(app, headers=api.client.headers)


def test_a_submission_is_503_and_leaves_no_job(api: ApiHarness, wav_bytes: bytes) -> None:
    with storage_gone(api.storage.root):
        response = api.client.post("/v1/jobs", files={"file": ("clip.wav", wav_bytes)})
    assert_storage_unavailable(response)
    assert api.client.get("/v1/jobs").json()["items"] == []
    assert api.enqueued == []


def test_an_api_process_started_while_storage_is_away_answers_503_until_it_is_back(
    api: ApiHarness, wav_bytes: bytes
) -> None:
    """Storage is made at a process's first request; a folder that could not be made there was a 500."""
    with storage_gone(api.storage.root):
        clear_service_caches()  # a new API process: it has not touched storage yet
        client = fresh_app(api)
        assert_storage_unavailable(client.post("/v1/jobs", files={"file": ("clip.wav", wav_bytes)}))
    assert client.post("/v1/jobs", files={"file": ("clip.wav", wav_bytes)}).status_code == 202


def test_saving_note_parameters_is_503_and_keeps_the_old_ones(
    api: ApiHarness, submit: Callable[..., dict]
) -> None:
    job_id = submit()["id"]
    finish_with_outputs(api, job_id, two_notes())
    with storage_gone(api.storage.root):
        response = api.client.patch(f"/v1/jobs/{job_id}", json={"note_params": {"onset_threshold": 0.2}})
    assert_storage_unavailable(response)
    job = api.client.get(f"/v1/jobs/{job_id}").json()
    assert job["params"]["onset_threshold"] == NoteParams().onset_threshold and job["note_count"] == 1


def test_a_delete_is_503_and_keeps_the_job_and_its_files_until_storage_is_back(
    api: ApiHarness, submit: Callable[..., dict]
) -> None:
    job_id = submit()["id"]
    finish_with_outputs(api, job_id, two_notes())
    with storage_gone(api.storage.root):
        assert_storage_unavailable(api.client.delete(f"/v1/jobs/{job_id}"))
    assert api.client.get(f"/v1/jobs/{job_id}").status_code == 200
    assert api.storage.exists(job_keys(job_id).midi)
    assert api.client.delete(f"/v1/jobs/{job_id}").status_code == 204  # storage back: the retry works
    assert api.client.get(f"/v1/jobs/{job_id}").status_code == 404
    assert api.storage.list(job_keys(job_id).prefix) == []
    assert not (api.storage.root / "jobs" / job_id).exists()


def test_readiness_checks_that_storage_is_writable_without_naming_it(api: ApiHarness) -> None:
    assert api.client.get("/readyz").json()["checks"]["storage"] == "ok"
    with storage_gone(api.storage.root):
        response = api.client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "broker": "ok", "storage": "error"},
    }
    assert str(api.storage.root) not in response.text
    assert api.storage.list() == []  # the probe leaves nothing behind
