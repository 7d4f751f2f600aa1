"""An API app on a fresh SQLite file and local storage; enqueued job ids are recorded, not sent."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from service_testkit import MAX_UPLOAD_MB, ApiHarness, clear_service_caches, create_api_key, piano_clip

from piano_ai.db import session as db_session
from piano_ai.db.migrate import upgrade
from piano_ai.storage import get_storage


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiHarness]:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/jobs.db")
    monkeypatch.setenv("PIANO_AI_STORAGE_DIR", str(tmp_path / "storage"))
    monkeypatch.setenv("PIANO_AI_BROKER_DIR", str(tmp_path / "broker"))
    monkeypatch.setenv("PIANO_AI_MAX_UPLOAD_MB", str(MAX_UPLOAD_MB))
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("PIANO_AI_STORAGE_BACKEND", raising=False)
    clear_service_caches()
    upgrade()
    from piano_api.deps import get_enqueue
    from piano_api.main import create_app

    app = create_app()
    harness = ApiHarness(
        client=TestClient(app, headers=create_api_key("test")),
        storage=get_storage(),  # type: ignore[arg-type]
        admin_headers=create_api_key("admin", admin=True),
    )

    def enqueue(job_id: str) -> None:
        if harness.fail_enqueue:
            raise ConnectionError("broker down")
        harness.enqueued.append(job_id)

    app.dependency_overrides[get_enqueue] = lambda: enqueue
    with harness.client:
        yield harness
    db_session.get_engine().dispose()
    clear_service_caches()


@pytest.fixture
def wav_bytes(tmp_path: Path) -> bytes:
    return piano_clip(tmp_path / "clip.wav", seconds=1.0).read_bytes()


@pytest.fixture
def submit(api: ApiHarness, wav_bytes: bytes) -> Callable[..., dict]:
    def _submit(data: bytes | None = None, name: str = "clip.wav", **kwargs: object) -> dict:
        response = api.client.post("/v1/jobs", files={"file": (name, data or wav_bytes)}, **kwargs)
        assert response.status_code == 202, response.text
        return response.json()

    return _submit
