"""Queue statistics, health probes and Prometheus metrics."""

import logging
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from piano_ai.db.queue_history import depth_history
from piano_ai.db.stats import queue_stats
from piano_ai.storage import get_storage
from piano_api.auth import AdminDep
from piano_api.deps import SessionDep, SettingsDep
from piano_api.metrics import REGISTRY
from piano_api.queue import ping_broker
from piano_api.responses import V1_ERRORS, errors
from piano_api.schemas import DepthPointOut, QueueHistoryOut, QueueOut, Readiness, iso

logger = logging.getLogger(__name__)
router = APIRouter(tags=["system"])


@router.get("/v1/queue", response_model=QueueOut, responses={**V1_ERRORS, **errors(403)})
def get_queue(_: AdminDep, session: SessionDep, settings: SettingsDep) -> QueueOut:
    """Jobs by status, oldest queued age, recent throughput and latency, live workers, errors by code
    (every key's jobs: an admin key only)."""
    return QueueOut.from_stats(queue_stats(session, live_within_s=settings.worker_live_s))


@router.get("/v1/queue/history", response_model=QueueHistoryOut, responses={**V1_ERRORS, **errors(403, 422)})
def get_queue_history(
    _: AdminDep,
    session: SessionDep,
    window_s: Annotated[float, Query(ge=60, le=7 * 86400, description="how far back, seconds")] = 3600,
    points: Annotated[int, Query(ge=2, le=1000, description="evenly spaced times, both ends included")] = 121,
) -> QueueHistoryOut:
    """Queue depth (queued and running jobs) over the last ``window_s`` seconds, from the job table (every
    key's jobs: an admin key only)."""
    history = depth_history(session, window_s, points)
    return QueueHistoryOut(
        window_s=window_s,
        step_s=window_s / (points - 1),
        points=[DepthPointOut(time=iso(p.time) or "", queued=p.queued, running=p.running) for p in history],
    )


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up (liveness)."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "a check failed: the failing ones say error"}},
)
def readyz(session: SessionDep) -> JSONResponse:
    """Database, broker and storage all answer (readiness); 503 naming the failing checks otherwise.

    Only "ok" or "error" per check: hosts, ports and database names stay in the log.
    """
    checks: dict[str, str] = {}
    probes = {
        "database": lambda: session.execute(text("SELECT 1")),
        "broker": ping_broker,
        "storage": lambda: get_storage().ping(),
    }
    for name, probe in probes.items():
        try:
            probe()
            checks[name] = "ok"
        except Exception as exc:
            logger.warning("readiness check %s failed: %s: %s", name, type(exc).__name__, exc)
            checks[name] = "error"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse({"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {}}},
        **errors(401, 403),
    },  # 401/403: metrics_access=key
)
def metrics() -> Response:
    """Prometheus text exposition."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
