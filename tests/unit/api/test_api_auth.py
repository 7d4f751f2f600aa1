"""API keys: 401 without a live key, every job visible only to its key (admins see all), Idempotency-Keys
per key, admin-only /v1/queue, /metrics and /docs behind a key when the settings say so."""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from service_testkit import ApiHarness, clear_service_caches, create_api_key

from piano_ai.db import keys
from piano_ai.db.models import ApiKey
from piano_ai.db.session import session_scope
from piano_api.auth import Caller, KeyCache


@contextmanager
def app_with(monkeypatch: pytest.MonkeyPatch, **env: str) -> Iterator[TestClient]:
    """Another app on the same job store, built with these extra settings."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    clear_service_caches()
    from piano_api.main import create_app

    with TestClient(create_app()) as client:
        yield client


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/jobs"),
        ("POST", "/v1/jobs"),
        ("GET", "/v1/jobs/some-id"),
        ("GET", "/v1/jobs/some-id/midi"),
        ("POST", "/v1/jobs/some-id/cancel"),
        ("DELETE", "/v1/jobs/some-id"),
        ("PATCH", "/v1/jobs/some-id"),
        ("GET", "/v1/queue"),
    ],
)
def test_every_v1_endpoint_needs_a_key(api: ApiHarness, method: str, path: str) -> None:
    response = api.client.request(method, path, headers={"Authorization": ""})
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["code"] == "missing_api_key"


@pytest.mark.parametrize("header", ["Bearer pai_notarealkeyatall0000000000", "Basic dXNlcjpwYXNz", "Bearer "])
def test_unknown_or_malformed_keys_are_refused(api: ApiHarness, header: str) -> None:
    response = api.client.get("/v1/jobs", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["code"] in ("invalid_api_key", "missing_api_key")


def test_a_revoked_key_stops_working_at_once_without_the_key_cache(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = create_api_key("leaving")
    with app_with(monkeypatch, PIANO_AI_API_KEY_CACHE_S="0") as client:
        assert client.get("/v1/jobs", headers=headers).status_code == 200
        with session_scope() as session:
            assert keys.revoke(session, "leaving")
        response = client.get("/v1/jobs", headers=headers)
    assert response.status_code == 401 and response.json()["code"] == "invalid_api_key"


def test_a_revoked_key_stops_working_when_the_cache_forgets_it(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = create_api_key("leaving-slowly")
    with app_with(monkeypatch, PIANO_AI_API_KEY_CACHE_S="0.5") as client:
        assert client.get("/v1/jobs", headers=headers).status_code == 200
        with session_scope() as session:
            assert keys.revoke(session, "leaving-slowly")
        # Remembered: no job-store lookup, so the revocation is not seen yet.
        assert client.get("/v1/jobs", headers=headers).status_code == 200
        time.sleep(0.6)
        response = client.get("/v1/jobs", headers=headers)
    assert response.status_code == 401 and response.json()["code"] == "invalid_api_key"


def test_the_key_cache_answers_from_memory_until_its_time_is_up() -> None:
    now = [100.0]
    cache = KeyCache(ttl_s=10, clock=lambda: now[0])
    caller = Caller(key_id=7, name="ci", prefix="abcdefgh", admin=False)
    cache.put("pai_abcdefghsecret", caller)
    assert cache.get("pai_abcdefghsecret") == caller
    assert cache.get("pai_abcdefghother") is None
    now[0] = 109.9
    assert cache.get("pai_abcdefghsecret") == caller
    now[0] = 110.0
    assert cache.get("pai_abcdefghsecret") is None
    off = KeyCache(ttl_s=0)
    off.put("pai_abcdefghsecret", caller)
    assert off.get("pai_abcdefghsecret") is None


def test_probes_stay_open(api: ApiHarness) -> None:
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        assert api.client.get(path, headers={"Authorization": ""}).status_code == 200, path


def test_keys_are_stored_hashed_and_record_their_last_use(api: ApiHarness) -> None:
    headers = create_api_key("mallory")
    key = headers["Authorization"].removeprefix("Bearer ")
    with session_scope() as session:
        row = session.query(ApiKey).filter_by(name="mallory").one()
        assert row.last_used_at is None and key not in (row.secret_hash, row.prefix)
        assert row.secret_hash == keys.hash_key(key) and key.startswith(f"pai_{row.prefix}")
    api.client.get("/v1/jobs", headers=headers)
    with session_scope() as session:
        assert session.query(ApiKey).filter_by(name="mallory").one().last_used_at is not None


def test_another_keys_job_is_not_found_and_admins_see_every_job(
    api: ApiHarness, submit: Callable[..., dict]
) -> None:
    job = submit()
    other = create_api_key("other")
    for method, path in [
        ("GET", f"/v1/jobs/{job['id']}"),
        ("GET", f"/v1/jobs/{job['id']}/midi"),
        ("GET", f"/v1/jobs/{job['id']}/notes"),
        ("GET", f"/v1/jobs/{job['id']}/notes.csv"),
        ("GET", f"/v1/jobs/{job['id']}/score.musicxml"),
        ("POST", f"/v1/jobs/{job['id']}/decode"),
        ("POST", f"/v1/jobs/{job['id']}/cancel"),
        ("DELETE", f"/v1/jobs/{job['id']}"),
    ]:
        response = api.client.request(method, path, headers=other)
        assert response.status_code == 404 and response.json()["code"] == "job_not_found", (method, path)
    response = api.client.patch(f"/v1/jobs/{job['id']}", json={"note_params": {}}, headers=other)
    assert response.status_code == 404
    assert api.client.get("/v1/jobs", headers=other).json()["items"] == []
    assert (
        api.client.get(f"/v1/jobs/{job['id']}").json()["status"] == "queued"
    )  # the owner's cancel is intact

    listed = api.client.get("/v1/jobs", headers=api.admin_headers).json()["items"]
    assert [item["id"] for item in listed] == [job["id"]]
    assert api.client.post(f"/v1/jobs/{job['id']}/cancel", headers=api.admin_headers).status_code == 200


def test_idempotency_keys_belong_to_one_api_key(
    api: ApiHarness, submit: Callable[..., dict], wav_bytes: bytes
) -> None:
    first = submit(headers={"Idempotency-Key": "upload-1"})
    other = {**create_api_key("other"), "Idempotency-Key": "upload-1"}
    # The other key's different upload under the same Idempotency-Key is a new job, not a 409 or a replay
    response = api.client.post("/v1/jobs", files={"file": ("b.wav", wav_bytes + b"\0" * 64)}, headers=other)
    assert response.status_code == 202 and response.json()["id"] != first["id"]
    assert "Idempotent-Replayed" not in response.headers
    again = api.client.post(
        "/v1/jobs", files={"file": ("clip.wav", wav_bytes)}, headers={"Idempotency-Key": "upload-1"}
    )
    assert again.json()["id"] == first["id"] and again.headers["Idempotent-Replayed"] == "true"


def test_the_queue_needs_an_admin_key(api: ApiHarness) -> None:
    response = api.client.get("/v1/queue")
    assert response.status_code == 403 and response.json()["code"] == "admin_required"
    assert api.client.get("/v1/queue", headers=api.admin_headers).status_code == 200


def test_metrics_and_docs_can_be_closed_to_requests_without_a_key(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = create_api_key("plain")
    env = {"PIANO_AI_METRICS_ACCESS": "key", "PIANO_AI_DOCS_ACCESS": "key"}
    with app_with(monkeypatch, **env) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers=plain).json()["code"] == "admin_required"
        assert client.get("/metrics", headers=api.admin_headers).status_code == 200
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert client.get(path).status_code == 401, path
            assert client.get(path, headers=plain).status_code == 200, path
        assert client.get("/healthz").status_code == 200


def test_metrics_hold_service_totals_never_a_key_job_or_file_name(api: ApiHarness, wav_bytes: bytes) -> None:
    """/metrics is an operator endpoint (closed with PIANO_AI_METRICS_ACCESS=key): whoever reads it sees
    totals over every key, never which key, job or file they come from."""
    from prometheus_client.parser import text_string_to_metric_families

    other = create_api_key("other-tenant")
    ids = []
    for headers, name in ((api.client.headers, "mine-secret.wav"), (other, "theirs-secret.wav")):
        response = api.client.post("/v1/jobs", files={"file": (name, wav_bytes)}, headers=headers)
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])
    assert api.client.get(f"/v1/jobs/{ids[1]}").status_code == 404  # counted by route, not by id
    text = api.client.get("/metrics", headers={"Authorization": ""}).text
    assert 'piano_jobs{status="queued"} 2.0' in text  # a total over both keys
    prefixes = [h["Authorization"].removeprefix("Bearer pai_")[:8] for h in (api.client.headers, other)]
    for secret in (*ids, *prefixes, "mine-secret", "theirs-secret", "other-tenant"):
        assert secret not in text, secret
    labels = {
        label
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        for label in sample.labels
    }
    assert labels <= {"method", "route", "status", "window_s", "le"}, labels  # le: histogram buckets


def test_auth_off_serves_everyone_as_one_admin(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch, wav_bytes: bytes
) -> None:
    with app_with(monkeypatch, PIANO_AI_AUTH="off") as client:
        response = client.post("/v1/jobs", files={"file": ("clip.wav", wav_bytes)})
        assert response.status_code == 202, response.text
        assert client.get("/v1/queue").status_code == 200


def test_the_openapi_document_declares_bearer_auth(api: ApiHarness) -> None:
    spec = api.client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert {"HTTPBearer": []} in spec["paths"]["/v1/jobs"]["post"]["security"]
