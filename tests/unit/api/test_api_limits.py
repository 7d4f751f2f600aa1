"""Per-key limits: submissions per minute, active jobs, upload bytes per UTC day; 429 with Retry-After."""

import pytest
from fastapi.testclient import TestClient
from service_testkit import ApiHarness, clear_service_caches, create_api_key, storage_gone

from piano_ai.settings import Settings
from piano_api.auth import Caller
from piano_api.limits import Limiter, MemoryCounter
from piano_api.problems import ApiError

CALLER = Caller(key_id=1, name="k", prefix="abcdefgh", admin=False)


def limited(api: ApiHarness, monkeypatch: pytest.MonkeyPatch, **env: str) -> TestClient:
    """An app on the harness's job store with these limits, sending the harness's key; its enqueue fails
    while ``api.fail_enqueue`` is set."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    clear_service_caches()
    from piano_api.deps import get_enqueue
    from piano_api.main import create_app

    def enqueue(job_id: str) -> None:
        if api.fail_enqueue:
            raise ConnectionError("broker down")
        api.enqueued.append(job_id)

    app = create_app()
    app.dependency_overrides[get_enqueue] = lambda: enqueue
    return TestClient(app, headers=api.client.headers)


def post(client: TestClient, wav: bytes, **headers: str):  # type: ignore[no-untyped-def]
    return client.post("/v1/jobs", files={"file": ("clip.wav", wav)}, headers=headers)


def test_submissions_over_the_minute_limit_get_429_with_retry_after(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch, wav_bytes: bytes
) -> None:
    client = limited(api, monkeypatch, PIANO_AI_SUBMISSIONS_PER_MINUTE="2")
    assert [post(client, wav_bytes).status_code for _ in range(2)] == [202, 202]
    refused = post(client, wav_bytes)
    assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert post(client, wav_bytes, **create_api_key("another")).status_code == 202  # per key


def test_a_key_with_too_many_active_jobs_gets_429_until_one_ends(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch, wav_bytes: bytes
) -> None:
    client = limited(api, monkeypatch, PIANO_AI_MAX_ACTIVE_JOBS="1")
    first = post(client, wav_bytes, **{"Idempotency-Key": "a"}).json()
    refused = post(client, wav_bytes + b"\0")
    assert refused.status_code == 429 and refused.json()["code"] == "too_many_active_jobs"
    assert int(refused.headers["Retry-After"]) > 0
    replay = post(client, wav_bytes, **{"Idempotency-Key": "a"})  # not a new job: no limit applies
    assert client.post(f"/v1/jobs/{first['id']}/cancel").status_code == 200
    assert post(client, wav_bytes + b"\0").status_code == 202
    assert replay.status_code == 202


def test_the_daily_upload_quota_refuses_what_does_not_fit(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch, wav_bytes: bytes
) -> None:
    client = limited(api, monkeypatch, PIANO_AI_UPLOAD_MB_PER_DAY="0.05")
    assert 26_215 < len(wav_bytes) < 52_428  # one fits in 0.05 MB, two do not
    assert post(client, wav_bytes, **{"Idempotency-Key": "a"}).status_code == 202
    refused = post(client, wav_bytes + b"\0")
    assert refused.status_code == 429 and refused.json()["code"] == "daily_quota_exceeded"
    assert 0 < int(refused.headers["Retry-After"]) <= 86_400
    # the same upload again under its Idempotency-Key is a replay: answered, not charged
    assert post(client, wav_bytes, **{"Idempotency-Key": "a"}).status_code == 202


def test_an_upload_that_made_no_job_gives_its_bytes_back(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch, wav_bytes: bytes
) -> None:
    """Storage that cannot be written (503 storage_unavailable) and a broker that refuses the job (503
    queue_unavailable) leave no job: the day's quota must not keep counting those bytes."""
    client = limited(api, monkeypatch, PIANO_AI_UPLOAD_MB_PER_DAY="0.05")
    assert 26_215 < len(wav_bytes) < 52_428  # one fits in 0.05 MB, two do not
    with storage_gone(api.storage.root):
        assert post(client, wav_bytes).json()["code"] == "storage_unavailable"
    api.fail_enqueue = True
    assert post(client, wav_bytes).json()["code"] == "queue_unavailable"
    api.fail_enqueue = False
    assert post(client, wav_bytes).status_code == 202  # still the first upload of the day
    assert post(client, wav_bytes + b"\0").json()["code"] == "daily_quota_exceeded"


def test_a_refund_goes_to_the_day_it_was_charged_to() -> None:
    limiter = Limiter(Settings(upload_mb_per_day=1), MemoryCounter())
    mb = 1024 * 1024
    refund = limiter.charge_bytes(CALLER, mb, now=86_399.0)  # the last second of day 0
    limiter.charge_bytes(CALLER, mb, now=86_400.0)  # day 1: a day of its own
    refund()  # the day-0 upload failed after midnight: day 1 keeps its count
    with pytest.raises(ApiError):
        limiter.charge_bytes(CALLER, 1, now=86_401.0)
    limiter.charge_bytes(CALLER, mb, now=86_399.5)  # day 0 has room again
    unlimited = Limiter(Settings(upload_mb_per_day=0), MemoryCounter())
    unlimited.charge_bytes(CALLER, 10**12, now=0.0)()  # nothing counted, nothing to give back


def test_counts_start_again_in_the_next_window() -> None:
    limiter = Limiter(Settings(submissions_per_minute=1, upload_mb_per_day=1), MemoryCounter())
    limiter.check_rate(CALLER, now=120.0)
    with pytest.raises(ApiError) as refused:
        limiter.check_rate(CALLER, now=179.5)
    assert refused.value.headers == {"Retry-After": "1"}
    limiter.check_rate(CALLER, now=180.0)
    mb = 1024 * 1024
    limiter.charge_bytes(CALLER, mb - 10, now=0.0)
    with pytest.raises(ApiError):
        limiter.charge_bytes(CALLER, 11, now=1.0)
    limiter.charge_bytes(CALLER, 10, now=2.0)  # the refused bytes were not counted
    limiter.charge_bytes(CALLER, mb, now=86_400.0)  # a new UTC day


def test_a_zero_limit_is_no_limit() -> None:
    limiter = Limiter(Settings(submissions_per_minute=0, upload_mb_per_day=0), MemoryCounter())
    for _ in range(1000):
        limiter.check_rate(CALLER, now=0.0)
    limiter.charge_bytes(CALLER, 10**12, now=0.0)
