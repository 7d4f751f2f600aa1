"""The same code path on GCS: the API stores uploads in a bucket, a worker run (real model, in this
process) reads it and writes results there, the API serves and deletes them."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from service_testkit import (
    clear_service_caches,
    create_api_key,
    create_bucket,
    gcs_emulator_server,
    piano_clip,
    throwaway_postgres,
)

from piano_ai.db import session as db_session
from piano_ai.db.migrate import upgrade
from piano_ai.storage import get_storage
from piano_ai.storage.gcs import GCSStorage
from piano_worker.pipeline import WorkerContext, run_job

pytestmark = pytest.mark.integration


@pytest.fixture
def gcs_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, list[str]]]:
    bucket = f"piano-{uuid.uuid4().hex[:8]}"
    with gcs_emulator_server() as emulator, throwaway_postgres() as database_url:
        create_bucket(emulator, bucket)
        for key, value in {
            "DATABASE_URL": database_url,
            "PIANO_AI_STORAGE_BACKEND": "gcs",
            "PIANO_AI_GCS_BUCKET": bucket,
            "PIANO_AI_GCS_PREFIX": "piano/",
            "STORAGE_EMULATOR_HOST": emulator,
            "PIANO_AI_BROKER_DIR": str(tmp_path / "broker"),
        }.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("REDIS_URL", raising=False)
        clear_service_caches()
        upgrade()
        from piano_api.deps import get_enqueue
        from piano_api.main import create_app

        app = create_app()
        enqueued: list[str] = []
        app.dependency_overrides[get_enqueue] = lambda: enqueued.append
        try:
            with TestClient(app, headers=create_api_key("gcs")) as client:
                yield client, enqueued
        finally:
            db_session.get_engine().dispose()
            clear_service_caches()


def test_submit_run_download_delete_on_gcs(gcs_api: tuple[TestClient, list[str]], tmp_path: Path) -> None:
    from piano_ai.inference import load_transcriber

    client, enqueued = gcs_api
    storage = get_storage()
    assert isinstance(storage, GCSStorage)
    clip = piano_clip(tmp_path / "take.wav", seconds=2.0)
    job = client.post("/v1/jobs", files={"file": ("take.wav", clip.read_bytes())}).json()
    assert enqueued == [job["id"]]
    assert storage.list() == [f"jobs/{job['id']}/input.wav"]
    assert client.get("/readyz").json()["checks"]["storage"] == "ok"

    model = load_transcriber()
    ctx = WorkerContext(db_session.get_session_factory(), storage, lambda: model, "inproc@test/1")
    assert run_job(job["id"], ctx) == "succeeded"

    done = client.get(f"/v1/jobs/{job['id']}").json()
    assert done["status"] == "succeeded"
    midi = client.get(done["links"]["midi"])  # no signing key here: the API streams it from the bucket
    assert midi.status_code == 200 and midi.content == storage.get_bytes(f"jobs/{job['id']}/output.mid")
    assert client.get(done["links"]["notes"]).json()["job_id"] == job["id"]
    assert client.delete(f"/v1/jobs/{job['id']}").status_code == 204
    assert storage.list() == []
