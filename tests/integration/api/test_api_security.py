"""Issue 13's security cases on Postgres + Redis, the way an operator runs them: keys made and revoked by the
`piano-ai keys` command in a process of its own, limits counted in Redis, cross-site bodies, closed
/metrics and /docs, open probes without internal details, and storage that cannot be written."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from service_testkit import (
    REDIS_BASE_URL,
    api_client,
    assert_storage_unavailable,
    clear_service_caches,
    create_api_key,
    piano_clip,
    storage_gone,
    throwaway_postgres,
)

from piano_ai.db import session as db_session
from piano_ai.db.migrate import upgrade
from piano_ai.storage import get_storage

pytestmark = pytest.mark.integration
PREFLIGHT = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}


@pytest.fixture
def database_url() -> Iterator[str]:
    with throwaway_postgres() as url:
        upgrade(url)
        yield url
        db_session.get_engine().dispose()
        clear_service_caches()


@pytest.fixture
def wav(tmp_path: Path) -> bytes:
    return piano_clip(tmp_path / "a.wav", seconds=1.0).read_bytes()


def _app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str, **env: str) -> TestClient:
    """An API process of its own on the test's database and the shared Redis; sent job ids are dropped."""
    # a revocation counts at once (no key cache)
    return api_client(
        monkeypatch, tmp_path, database_url, "transcribe_security", PIANO_AI_API_KEY_CACHE_S="0", **env
    )


def _keys_command(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`piano-ai keys ...` in a process of its own, on ``database_url``."""
    code = "import sys; from piano_ai import cli; sys.exit(cli.main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, "keys", *args],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_key_made_by_the_command_works_until_the_command_revokes_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str, wav: bytes
) -> None:
    client = _app(monkeypatch, tmp_path, database_url)
    made = _keys_command(database_url, "create", "ci")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("pai_")
    bearer = {"Authorization": f"Bearer {key}"}
    missing = client.get("/v1/jobs")
    assert (missing.status_code, missing.json()["code"]) == (401, "missing_api_key")
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    assert client.post("/v1/jobs", files={"file": ("a.wav", wav)}, headers=bearer).status_code == 202
    listing = _keys_command(database_url, "list")
    assert "ci" in listing.stdout and key[:12] in listing.stdout and key not in listing.stdout
    assert _keys_command(database_url, "revoke", "ci").returncode == 0
    revoked = client.get("/v1/jobs", headers=bearer)
    assert (revoked.status_code, revoked.json()["code"]) == (401, "invalid_api_key")
    with db_session.get_engine().connect() as conn:  # the key itself is nowhere in the job store
        rows = conn.exec_driver_sql("SELECT secret_hash, prefix FROM api_keys WHERE name = 'ci'").all()
    assert len(rows) == 1 and key not in rows[0] and key.removeprefix("pai_") not in rows[0]


def test_active_jobs_and_daily_bytes_are_limited_per_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str, wav: bytes
) -> None:
    limits = {"PIANO_AI_MAX_ACTIVE_JOBS": "1", "PIANO_AI_UPLOAD_MB_PER_DAY": "0.05"}
    client = _app(monkeypatch, tmp_path, database_url, **limits)
    alice, bob = create_api_key("alice"), create_api_key("bob")
    assert 26_215 < len(wav) < 52_428  # one fits in 0.05 MB, two do not
    first = client.post("/v1/jobs", files={"file": ("a.wav", wav)}, headers=alice)
    assert first.status_code == 202, first.text
    busy = client.post("/v1/jobs", files={"file": ("a.wav", wav + b"\0")}, headers=alice)
    assert (busy.status_code, busy.json()["code"]) == (429, "too_many_active_jobs")
    assert int(busy.headers["Retry-After"]) > 0
    assert client.post(f"/v1/jobs/{first.json()['id']}/cancel", headers=alice).status_code == 200
    full = client.post("/v1/jobs", files={"file": ("a.wav", wav + b"\0")}, headers=alice)
    assert (full.status_code, full.json()["code"]) == (429, "daily_quota_exceeded")
    assert 0 < int(full.headers["Retry-After"]) <= 86_400
    assert client.post("/v1/jobs", files={"file": ("a.wav", wav)}, headers=bob).status_code == 202  # per key
    prefix = alice["Authorization"].removeprefix("Bearer pai_")[:8]
    (counter,) = redis.Redis.from_url(REDIS_BASE_URL).keys(f"piano-ai:limit:bytes:{prefix}:*")
    assert int(redis.Redis.from_url(REDIS_BASE_URL).get(counter) or 0) == len(wav)  # in Redis, not in memory


def test_a_page_on_another_origin_can_neither_read_nor_post(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str, wav: bytes
) -> None:
    client = _app(monkeypatch, tmp_path, database_url, PIANO_AI_CORS_ORIGINS="https://app.example")
    headers = create_api_key("browser")
    evil = {"Origin": "https://evil.example"}
    refused = client.options("/v1/jobs", headers={**evil, **PREFLIGHT})
    assert "access-control-allow-origin" not in refused.headers
    allowed = client.options("/v1/jobs", headers={"Origin": "https://app.example", **PREFLIGHT})
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    # A form a page may send without a preflight: text/plain, and no key (a browser sends none by itself).
    simple = client.post("/v1/jobs", content=wav, headers={**evil, "Content-Type": "text/plain"})
    assert simple.status_code == 401 and "access-control-allow-origin" not in simple.headers
    keyed = client.post("/v1/jobs", content=wav, headers={**evil, **headers, "Content-Type": "text/plain"})
    assert (keyed.status_code, keyed.json()["code"]) == (415, "unsupported_content_type")
    assert client.get("/v1/jobs", headers=headers).json()["items"] == []
    assert get_storage().list() == []


def test_metrics_and_docs_closed_by_the_settings_and_probes_open_without_details(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> None:
    env = {"PIANO_AI_METRICS_ACCESS": "key", "PIANO_AI_DOCS_ACCESS": "key"}
    client = _app(monkeypatch, tmp_path, database_url, **env)
    plain, admin = create_api_key("plain"), create_api_key("ops", admin=True)
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=plain).json()["code"] == "admin_required"
    assert client.get("/metrics", headers=admin).status_code == 200
    assert client.get("/openapi.json").status_code == 401
    assert client.get("/openapi.json", headers=plain).status_code == 200
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok", "storage": "ok"}}
    name = database_url.rsplit("/", 1)[1]
    for detail in (name, "5432", "6379", "127.0.0.1", str(tmp_path)):
        assert detail not in ready.text


def test_storage_that_cannot_be_written_is_503_and_leaves_no_job(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str, wav: bytes
) -> None:
    client = _app(monkeypatch, tmp_path, database_url, PIANO_AI_UPLOAD_MB_PER_DAY="0.05")
    headers = create_api_key("disk-full")
    storage = get_storage()
    with storage_gone(storage.root):
        assert_storage_unavailable(client.post("/v1/jobs", files={"file": ("a.wav", wav)}, headers=headers))
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["storage"] == "error"
        assert str(storage.root) not in ready.text
    assert client.get("/v1/jobs", headers=headers).json()["items"] == []
    # the refused upload's bytes were given back: today's one upload still fits
    assert client.post("/v1/jobs", files={"file": ("a.wav", wav)}, headers=headers).status_code == 202
