"""The API on Postgres + Redis without workers: what lands in the queue, readiness, and a dead broker."""

import json
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from hostile_uploads import raw_multipart
from service_testkit import REDIS_BASE_URL, create_api_key, piano_clip, throwaway_postgres

from piano_ai.db import session as db_session
from piano_ai.db.migrate import upgrade
from piano_ai.settings import get_settings
from piano_ai.storage import get_storage
from piano_api import queue as api_queue

pytestmark = pytest.mark.integration


def _clear() -> None:
    for cached in (
        get_settings,
        get_storage,
        db_session.get_engine,
        db_session.get_session_factory,
        api_queue.get_client,
    ):
        cached.cache_clear()


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    with throwaway_postgres() as url:
        upgrade(url)
        yield url


def _client(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str, redis_url: str, queue: str
) -> TestClient:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("PIANO_AI_QUEUE", queue)
    monkeypatch.setenv("PIANO_AI_STORAGE_DIR", str(tmp_path / "storage"))
    monkeypatch.delenv("PIANO_AI_STORAGE_BACKEND", raising=False)
    _clear()
    from piano_api.main import create_app

    return TestClient(create_app(), headers=create_api_key(f"broker-{uuid.uuid4().hex[:8]}"))


def test_submit_puts_one_message_named_for_the_worker_on_our_queue(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> None:
    queue = f"transcribe_api_{uuid.uuid4().hex[:8]}"
    client = _client(monkeypatch, tmp_path, database_url, REDIS_BASE_URL, queue)
    broker = redis.Redis.from_url(REDIS_BASE_URL)
    try:
        with client:
            clip = piano_clip(tmp_path / "a.wav", seconds=1.0).read_bytes()
            job = client.post("/v1/jobs", files={"file": ("a.wav", clip)}).json()
            assert broker.llen(queue) == 1
            message = json.loads(broker.lpop(queue))
            assert message["headers"]["task"] == api_queue.TRANSCRIBE_TASK
            assert (
                message["headers"]["argsrepr"] == repr((job["id"],))
                or job["id"] in message["headers"]["argsrepr"]
            )
            ready = client.get("/readyz")
            assert ready.status_code == 200 and ready.json()["checks"]["broker"] == "ok"
    finally:
        broker.delete(queue)
        db_session.get_engine().dispose()
        _clear()


def test_a_dead_broker_means_not_ready_and_no_half_written_job(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]  # nothing listens here once the socket closes
    client = _client(monkeypatch, tmp_path, database_url, f"redis://127.0.0.1:{dead_port}/0", "unused")
    try:
        with client:
            ready = client.get("/readyz")
            assert ready.status_code == 503 and ready.json()["checks"]["broker"] == "error"
            assert str(dead_port) not in ready.text and "127.0.0.1" not in ready.text  # details: the log
            clip = piano_clip(tmp_path / "b.wav", seconds=1.0).read_bytes()
            before = client.get("/v1/jobs").json()["items"]
            response = client.post("/v1/jobs", files={"file": ("b.wav", clip)})
            assert response.status_code == 503 and response.json()["code"] == "queue_unavailable"
            assert client.get("/v1/jobs").json()["items"] == before
            assert get_storage().list() == []
    finally:
        db_session.get_engine().dispose()
        _clear()


def test_control_characters_in_the_file_name_are_stored_replaced_not_a_500(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> None:
    """Postgres refuses NUL in text: the name is cleaned at the edge, before the insert."""
    queue = f"transcribe_api_{uuid.uuid4().hex[:8]}"
    client = _client(monkeypatch, tmp_path, database_url, REDIS_BASE_URL, queue)
    try:
        with client:
            clip = piano_clip(tmp_path / "c.wav", seconds=1.0).read_bytes()
            body, headers = raw_multipart(b"take\x00one\x1b[2J.wav", clip)
            response = client.post("/v1/jobs", content=body, headers=headers)
            assert response.status_code == 202, response.text
            job = client.get(f"/v1/jobs/{response.json()['id']}").json()
            assert job["filename"] == "take_one_[2J.wav"
    finally:
        redis.Redis.from_url(REDIS_BASE_URL).delete(queue)
        db_session.get_engine().dispose()
        _clear()
