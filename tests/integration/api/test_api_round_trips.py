"""What one submit costs the job store, on SQLite and on Postgres: one pooled connection for the request,
two statements (the active-job count, the insert that also records the send), nothing read back."""

import uuid
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from service_testkit import clear_service_caches, create_api_key, piano_clip, throwaway_postgres
from sqlalchemy import event

from piano_ai.db import session as db_session
from piano_ai.db.migrate import upgrade

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgres"])
def client(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    database = (
        throwaway_postgres() if request.param == "postgres" else nullcontext(f"sqlite:///{tmp_path}/j.db")
    )
    with database as url:
        upgrade(url)
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setenv("PIANO_AI_STORAGE_DIR", str(tmp_path / "storage"))
        monkeypatch.setenv("PIANO_AI_BROKER_DIR", str(tmp_path / "broker"))
        monkeypatch.setenv("PIANO_AI_QUEUE", f"round_trips_{uuid.uuid4().hex[:8]}")
        monkeypatch.delenv("REDIS_URL", raising=False)
        monkeypatch.delenv("PIANO_AI_STORAGE_BACKEND", raising=False)
        clear_service_caches()
        from piano_api.deps import get_enqueue
        from piano_api.main import create_app

        app = create_app()
        app.dependency_overrides[get_enqueue] = lambda: lambda job_id: None
        try:
            with TestClient(app, headers=create_api_key("admin", admin=True)) as test_client:
                yield test_client
        finally:
            db_session.get_engine().dispose()
            clear_service_caches()


def test_a_submit_uses_one_connection_and_reads_nothing_back(client: TestClient, tmp_path: Path) -> None:
    clip = piano_clip(tmp_path / "a.wav", seconds=1.0).read_bytes()
    assert client.post("/v1/jobs", files={"file": ("a.wav", clip)}).status_code == 202  # warm: key cached
    engine = db_session.get_engine()
    checkouts: list[str] = []
    statements: list[str] = []
    event.listen(engine.pool, "checkout", lambda *_: checkouts.append("checkout"))
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2].split()[0]))
    response = client.post("/v1/jobs", files={"file": ("b.wav", clip)})
    assert response.status_code == 202
    assert checkouts == ["checkout"]  # count and insert in one transaction
    assert statements == ["SELECT", "INSERT"]
    job = response.json()
    assert job["enqueued_at"] is not None  # from the insert (Postgres: its RETURNING), not read again
    assert client.get(f"/v1/jobs/{job['id']}").json() == job
