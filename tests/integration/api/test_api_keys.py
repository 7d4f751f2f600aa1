"""Keys, ownership and limits on Postgres + Redis: the migration on Postgres, Idempotency-Keys unique per
API key (the database constraint), rate limits shared by two API processes through Redis, and the daily
quota given back for an upload whose job row could not be written."""

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from httpx import Response
from service_testkit import (
    REDIS_BASE_URL,
    api_client,
    create_api_key,
    piano_clip,
    throwaway_postgres,
)
from sqlalchemy import Connection, create_engine, inspect, text

from piano_ai.db import session as db_session
from piano_ai.db.migrate import downgrade, upgrade
from piano_ai.storage import get_storage

pytestmark = pytest.mark.integration


@pytest.fixture
def database_url() -> Iterator[str]:
    with throwaway_postgres() as url:
        upgrade(url)
        yield url


def _app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str, **env: str) -> TestClient:
    """An API process of its own on the test's database and the shared Redis; sent job ids are dropped."""
    return api_client(monkeypatch, tmp_path, database_url, "transcribe_keys", **env)


def test_the_migration_runs_both_ways_on_postgres(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        uniques = {tuple(u["column_names"]) for u in inspect(engine).get_unique_constraints("jobs")}
        assert ("owner_key_id", "idempotency_key") in uniques and ("idempotency_key",) not in uniques
        downgrade(database_url, "0004")
        assert "api_keys" not in inspect(engine).get_table_names()
        upgrade(database_url)
        assert "api_keys" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_two_keys_may_use_one_idempotency_key_and_see_only_their_jobs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> None:
    client = _app(monkeypatch, tmp_path, database_url)
    alice, bob = create_api_key("alice"), create_api_key("bob")
    admin = create_api_key("admin", admin=True)
    wav = piano_clip(tmp_path / "a.wav", seconds=1.0).read_bytes()
    ids = {}
    for name, headers, audio in (("alice", alice, wav), ("bob", bob, wav + b"\0")):
        response = client.post(
            "/v1/jobs", files={"file": ("a.wav", audio)}, headers={**headers, "Idempotency-Key": "same"}
        )
        assert response.status_code == 202, response.text
        ids[name] = response.json()["id"]
    assert ids["alice"] != ids["bob"]
    assert client.get(f"/v1/jobs/{ids['bob']}", headers=alice).status_code == 404
    assert [j["id"] for j in client.get("/v1/jobs", headers=alice).json()["items"]] == [ids["alice"]]
    assert {j["id"] for j in client.get("/v1/jobs", headers=admin).json()["items"]} == set(ids.values())
    db_session.get_engine().dispose()


def test_the_minute_limit_is_shared_by_api_processes_through_redis(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> None:
    if time.time() % 60 > 50:  # the four requests must fall in one minute window
        time.sleep(61 - time.time() % 60)
    limits = {"PIANO_AI_SUBMISSIONS_PER_MINUTE": "3"}
    first = _app(monkeypatch, tmp_path, database_url, **limits)
    headers = create_api_key("busy")
    second = _app(monkeypatch, tmp_path, database_url, **limits)  # another replica: its own memory
    wav = piano_clip(tmp_path / "a.wav", seconds=1.0).read_bytes()
    statuses = [
        app.post("/v1/jobs", files={"file": ("a.wav", wav + bytes(i))}, headers=headers).status_code
        for i, app in enumerate((first, second, first, second))
    ]
    assert statuses[:3] == [202, 202, 202] and statuses[3] == 429, statuses
    prefix = headers["Authorization"].removeprefix("Bearer pai_")[:8]
    counters = redis.Redis.from_url(REDIS_BASE_URL).keys(f"piano-ai:limit:rate:{prefix}:*")
    assert len(counters) == 1  # counted in Redis, and it expires on its own
    assert 0 < redis.Redis.from_url(REDIS_BASE_URL).ttl(counters[0]) <= 120
    db_session.get_engine().dispose()


def test_bytes_of_an_upload_whose_job_row_was_not_written_are_given_back(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> None:
    """The insert waits on a lock and its connection is cut (pg_terminate_backend): 503
    database_unavailable, the stored upload removed, and the bytes counted in Redis given back."""
    client = _app(monkeypatch, tmp_path, database_url, PIANO_AI_UPLOAD_MB_PER_DAY="0.05")
    headers = create_api_key("refunded")
    wav = piano_clip(tmp_path / "a.wav", seconds=1.0).read_bytes()
    assert 26_215 < len(wav) < 52_428  # one fits in 0.05 MB, two do not
    answers: list[Response] = []
    post = threading.Thread(
        target=lambda: answers.append(
            client.post("/v1/jobs", files={"file": ("a.wav", wav)}, headers=headers)
        )
    )
    holder = create_engine(database_url)
    try:
        with holder.connect() as conn:
            conn.execute(text("LOCK TABLE jobs IN EXCLUSIVE MODE"))  # reads pass, inserts wait
            post.start()
            pid = _backend_waiting_on_a_lock(conn)
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            post.join(timeout=30)
            conn.rollback()
    finally:
        holder.dispose()
    assert answers and answers[0].status_code == 503, answers and answers[0].text
    assert answers[0].json()["code"] == "database_unavailable"
    assert get_storage().list() == []
    prefix = headers["Authorization"].removeprefix("Bearer pai_")[:8]
    (counter,) = redis.Redis.from_url(REDIS_BASE_URL).keys(f"piano-ai:limit:bytes:{prefix}:*")
    assert int(redis.Redis.from_url(REDIS_BASE_URL).get(counter) or 0) == 0
    response = client.post("/v1/jobs", files={"file": ("a.wav", wav)}, headers=headers)
    assert response.status_code == 202, response.text  # the day's first upload still
    db_session.get_engine().dispose()


def _backend_waiting_on_a_lock(conn: Connection, timeout_s: float = 30) -> int:
    """The pid of the (other) backend that waits on a lock in this database."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pid = conn.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
        ).scalar()
        if pid is not None:
            return int(pid)
        time.sleep(0.05)
    raise TimeoutError("the insert never waited on the lock")
