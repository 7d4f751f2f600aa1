"""Cross-site requests: bodies of other media types get 415 (a web page can send text/plain without a
CORS preflight), and CORS answers only the origins in PIANO_AI_CORS_ORIGINS, never with credentials."""

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from service_testkit import ApiHarness, clear_service_caches

from piano_ai.settings import Settings

PREFLIGHT = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}


@pytest.mark.parametrize(
    ("method", "path", "content_type"),
    [
        ("POST", "/v1/jobs", "text/plain"),
        ("POST", "/v1/jobs", "application/x-www-form-urlencoded"),
        ("POST", "/v1/jobs", "application/json"),
        ("POST", "/v1/jobs/some-id/decode", "text/plain"),
        ("PATCH", "/v1/jobs/some-id", "text/plain;charset=utf-8"),
        ("PATCH", "/v1/jobs/some-id", "multipart/form-data; boundary=x"),
    ],
)
def test_bodies_of_the_wrong_media_type_get_415(
    api: ApiHarness, method: str, path: str, content_type: str
) -> None:
    body = b'{"note_params": {}}' if "json" in content_type or "text" in content_type else b"a=1"
    response = api.client.request(method, path, content=body, headers={"Content-Type": content_type})
    assert response.status_code == 415, response.text
    assert response.json()["code"] == "unsupported_content_type"
    assert api.client.get("/v1/jobs").json()["items"] == []


def test_a_post_without_a_body_still_works(api: ApiHarness, submit) -> None:  # type: ignore[no-untyped-def]
    job = submit()
    assert api.client.post(f"/v1/jobs/{job['id']}/cancel").status_code == 200


def test_no_origin_is_allowed_by_default(api: ApiHarness) -> None:
    response = api.client.options("/v1/jobs", headers={"Origin": "https://evil.example", **PREFLIGHT})
    assert "access-control-allow-origin" not in response.headers
    response = api.client.get("/v1/jobs", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers


def test_listed_origins_may_call_with_a_bearer_key_but_no_cookies(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIANO_AI_CORS_ORIGINS", "https://app.example, https://admin.example/")
    clear_service_caches()
    from piano_api.main import create_app

    with TestClient(create_app(), headers=api.client.headers) as client:
        allowed = client.options("/v1/jobs", headers={"Origin": "https://admin.example", **PREFLIGHT})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://admin.example"
        assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
        assert "access-control-allow-credentials" not in allowed.headers
        refused = client.options("/v1/jobs", headers={"Origin": "https://evil.example", **PREFLIGHT})
        assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers
        read = client.get("/v1/jobs", headers={"Origin": "https://app.example"})
        assert (
            read.status_code == 200 and read.headers["access-control-allow-origin"] == "https://app.example"
        )


def test_a_wildcard_origin_is_refused_at_startup() -> None:
    with pytest.raises(ValidationError, match="wildcard"):
        Settings(cors_origins="*")  # type: ignore[arg-type]
