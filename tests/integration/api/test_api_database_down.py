"""The API while Postgres refuses connections: 503 database_unavailable with Retry-After, never a 500."""

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from service_testkit import PG_ADMIN_URL, clear_service_caches, create_api_key, piano_clip, throwaway_postgres
from sqlalchemy import create_engine, text

from piano_ai.db import session as db_session
from piano_ai.db.migrate import upgrade
from piano_ai.storage import get_storage

pytestmark = pytest.mark.integration


def _allow_connections(database_url: str, allow: bool) -> None:
    """Cut (or restore) the database the way an outage does: no new connections, live ones dropped."""
    name = database_url.rsplit("/", 1)[1]
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allow).lower()}'))
        if not allow:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name}
            )
    admin.dispose()


SOME_KEY = {"Authorization": "Bearer pai_" + "k" * 43}  # well-formed: checking it needs the database


@pytest.fixture
def api_on_postgres(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, str]]:
    with throwaway_postgres() as url:
        upgrade(url)
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setenv("PIANO_AI_STORAGE_DIR", str(tmp_path / "storage"))
        monkeypatch.delenv("REDIS_URL", raising=False)
        monkeypatch.delenv("PIANO_AI_STORAGE_BACKEND", raising=False)
        monkeypatch.setenv("PIANO_AI_BROKER_DIR", str(tmp_path / "broker"))
        clear_service_caches()
        from piano_api.main import create_app

        try:
            admin = create_api_key("admin", admin=True)  # /v1/queue too
            with TestClient(create_app(), raise_server_exceptions=False, headers=admin) as client:
                yield client, url
        finally:
            _allow_connections(url, True)
            db_session.get_engine().dispose()
            clear_service_caches()


def test_a_database_outage_is_503_with_retry_after_and_leaves_nothing(
    api_on_postgres: tuple[TestClient, str], tmp_path: Path
) -> None:
    client, url = api_on_postgres
    clip = piano_clip(tmp_path / "a.wav", seconds=1.0).read_bytes()
    job = client.post("/v1/jobs", files={"file": ("a.wav", clip)}).json()
    _allow_connections(url, False)
    requests = [
        ("GET", "/v1/jobs", {}),
        ("GET", f"/v1/jobs/{job['id']}", {}),
        ("GET", "/v1/queue", {}),
        ("POST", "/v1/jobs", {"files": {"file": ("b.wav", clip)}}),
    ]
    for method, path, kwargs in requests:
        response = client.request(method, path, **kwargs)
        assert response.status_code == 503, (method, path, response.text)
        assert response.json()["code"] == "database_unavailable"
        assert int(response.headers["Retry-After"]) > 0
    assert get_storage().list() == [f"jobs/{job['id']}/input.wav"]  # the refused upload was not kept
    _allow_connections(url, True)
    assert client.get(f"/v1/jobs/{job['id']}").status_code == 200  # back once the database is


def test_a_database_that_never_answers_fails_fast(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A listening socket that never answers (a hung server, a half-open network path): without a
    connect timeout a request waits on it for as long as the kernel lets it."""
    silent = socket.create_server(("127.0.0.1", 0))
    monkeypatch.setenv("DATABASE_URL", f"postgresql://postgres@127.0.0.1:{silent.getsockname()[1]}/none")
    monkeypatch.setenv("PIANO_AI_DATABASE_CONNECT_TIMEOUT_S", "2")
    monkeypatch.setenv("PIANO_AI_STORAGE_DIR", str(tmp_path / "storage"))
    clear_service_caches()
    from piano_api.main import create_app

    answers: list[Response] = []
    try:
        with TestClient(create_app(), raise_server_exceptions=False) as client:
            # In a thread: a request stuck in libpq's connect cannot be interrupted from Python.
            request = threading.Thread(
                target=lambda: answers.append(client.get("/v1/jobs", headers=SOME_KEY)), daemon=True
            )
            request.start()
            request.join(timeout=15)
            answered_in_time = bool(answers)
            silent.close()  # let a stuck connect fail, so the client can shut down either way
            request.join(timeout=15)
    finally:
        silent.close()
        db_session.get_engine().dispose()
        clear_service_caches()
    assert answered_in_time, "no answer within 15 s: the request was stuck waiting for the database"
    assert (answers[0].status_code, answers[0].json()["code"]) == (503, "database_unavailable")
