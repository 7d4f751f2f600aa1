"""An API process runs blocking work in PIANO_AI_API_THREADS threads (anyio's default limiter)."""

import anyio.to_thread
import pytest
from fastapi.testclient import TestClient
from service_testkit import ApiHarness, clear_service_caches


async def _tokens() -> float:
    return anyio.to_thread.current_default_thread_limiter().total_tokens


@pytest.mark.parametrize(("env", "expected"), [(None, 2), ("3", 3)])
def test_the_thread_pool_has_the_configured_size(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch, env: str | None, expected: int
) -> None:
    if env is not None:
        monkeypatch.setenv("PIANO_AI_API_THREADS", env)
    clear_service_caches()
    from piano_api.main import create_app

    with TestClient(create_app()) as client:
        assert client.portal is not None
        assert client.portal.call(_tokens) == expected
        assert client.get("/healthz").status_code == 200
