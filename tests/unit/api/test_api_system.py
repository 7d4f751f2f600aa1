"""/v1/queue, /healthz, /readyz, /metrics; and the API's import boundary."""

import re
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta

from service_testkit import ApiHarness
from sqlalchemy import update

from piano_ai.db import jobs as job_store
from piano_ai.db.models import Job, WorkerHeartbeat, utcnow
from piano_ai.db.session import get_session_factory


def test_queue_counts_windows_workers_and_errors(api: ApiHarness, submit: Callable[..., dict]) -> None:
    ids = [submit()["id"] for _ in range(4)]
    with get_session_factory()() as session:
        job_store.heartbeat(session, "w1@host/1")
        attempt = job_store.claim(session, ids[0], "w1@host/1")
        assert attempt is not None
        job_store.succeed(session, ids[0], attempt, midi_key="m", notes_key="n", note_count=1)
        # Make its latency exactly 10 s.
        job = job_store.get_job(session, ids[0])
        assert job is not None and job.finished_at is not None
        job.created_at = job.finished_at - timedelta(seconds=10)
        session.commit()
        attempt = job_store.claim(session, ids[1], "w1@host/1")
        job_store.fail(session, ids[1], attempt, "invalid_audio", "bad")
        job_store.claim(session, ids[2], "w1@host/1")
    body = api.client.get("/v1/queue", headers=api.admin_headers).json()
    assert body["counts"] == {"queued": 1, "running": 1, "succeeded": 1, "failed": 1, "canceled": 0}
    assert body["oldest_queued_age_s"] >= 0
    assert [w["window_s"] for w in body["windows"]] == [300, 3600, 86400]
    assert body["windows"][0] == {"window_s": 300, "finished": 1, "failed": 1, "mean_latency_s": 10.0}
    assert body["workers"] == [
        {
            "name": "w1@host/1", "last_seen": body["workers"][0]["last_seen"], "busy": False,
            "current_job": ids[2], "processed": 1, "failed": 1,
        }
    ]  # fmt: skip
    assert body["errors_by_code"] == {"invalid_audio": 1}


def test_empty_queue(api: ApiHarness) -> None:
    body = api.client.get("/v1/queue", headers=api.admin_headers).json()
    assert body["oldest_queued_age_s"] is None and body["workers"] == []
    assert body["windows"][2]["mean_latency_s"] is None


def test_health_and_readiness(api: ApiHarness) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok", "storage": "ok"}


def test_metrics_expose_requests_and_queue_gauges(api: ApiHarness, submit: Callable[..., dict]) -> None:
    submit()
    text = api.client.get("/metrics").text
    assert 'piano_jobs{status="queued"} 1.0' in text
    assert 'piano_api_requests_total{method="POST",route="/v1/jobs",status="202"}' in text
    assert "piano_queue_oldest_age_seconds" in text


def test_api_never_imports_ml_or_worker_code() -> None:
    code = (
        "import sys, piano_api.main\n"
        "banned = ('tensorflow', 'keras', 'onnxruntime', 'librosa', 'piano_worker', 'piano_ai.inference',"
        " 'piano_ai.model', 'piano_ai.training', 'piano_ai.features')\n"
        "print(sorted(m for m in sys.modules if m.startswith(banned)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_table_model_is_not_the_response_model() -> None:
    from piano_api.schemas import JobPublic

    assert not issubclass(JobPublic, Job)


def test_swagger_ui_loads_nothing_from_the_internet(api: ApiHarness) -> None:
    page = api.client.get("/docs")
    assert page.status_code == 200
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    assert assets and not [url for url in assets if "://" in url]  # no CDN
    for url in assets:
        assert api.client.get(url).status_code == 200, url
    assert "docs/api.md" in api.client.get("/openapi.json").json()["info"]["description"]


def test_queue_history_counts_queued_and_running_jobs_from_the_job_rows(
    api: ApiHarness, submit: Callable[..., dict]
) -> None:
    ids = [submit()["id"] for _ in range(3)]
    with get_session_factory()() as session:
        jobs = [session.get(Job, seq) for seq in (1, 2, 3)]
        now = jobs[0].created_at  # type: ignore[union-attr]
        # Job 0: queued 50 min ago, ran from 40 to 30 min ago. Job 1: queued 20 min ago, running since 10.
        # Job 2: queued 5 min ago, still waiting.
        for job, created in zip(jobs, (50, 20, 5), strict=True):
            job.created_at = now - timedelta(minutes=created)  # type: ignore[union-attr]
        session.commit()
        for job_id, started in ((ids[0], 40), (ids[1], 10)):
            job_store.claim(session, job_id, "w1")
            session.execute(
                update(Job).where(Job.id == job_id).values(started_at=now - timedelta(minutes=started))
            )
        session.execute(
            update(Job)
            .where(Job.id == ids[0])
            .values(status="succeeded", finished_at=now - timedelta(minutes=30), updated_at=now)
        )
        session.commit()
    history = api.client.get(
        "/v1/queue/history", params={"window_s": 3600, "points": 13}, headers=api.admin_headers
    )
    body = history.json()
    assert body["window_s"] == 3600 and body["step_s"] == 300 and len(body["points"]) == 13
    depth = [(p["queued"], p["running"]) for p in body["points"]]  # every 5 min from an hour ago to now
    assert depth == [
        (0, 0), (0, 0), (1, 0), (1, 0), (0, 1), (0, 1), (0, 0), (0, 0), (1, 0), (1, 0), (0, 1), (1, 1), (1, 1)
    ]  # fmt: skip


def test_queue_history_rejects_a_window_out_of_range(api: ApiHarness) -> None:
    response = api.client.get("/v1/queue/history", params={"window_s": 10}, headers=api.admin_headers)
    assert response.status_code == 422


def test_only_live_workers_are_listed_and_counted(api: ApiHarness) -> None:
    """A worker is live while its heartbeats keep coming: one silent for a minute (killed: no goodbye) is
    neither listed in /v1/queue nor counted in piano_workers_alive, and a stopped one is gone at once."""
    with get_session_factory()() as session:
        for name in ("alive@host/1", "killed@host/2", "stopped@host/3"):
            job_store.heartbeat(session, name)
        session.execute(
            update(WorkerHeartbeat)
            .where(WorkerHeartbeat.name == "killed@host/2")
            .values(last_seen=utcnow() - timedelta(seconds=60))  # 6 heartbeats missed (default: every 10 s)
        )
        session.commit()
        job_store.forget_worker(session, "stopped@host/3")
    body = api.client.get("/v1/queue", headers=api.admin_headers).json()
    assert [w["name"] for w in body["workers"]] == ["alive@host/1"]
    assert "piano_workers_alive 1.0" in api.client.get("/metrics").text
