"""Prometheus metrics: request counts and latency here, queue gauges read from the job rows at scrape time."""

import logging
import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from piano_ai.db.session import get_session_factory
from piano_ai.db.stats import queue_stats
from piano_ai.settings import get_settings

logger = logging.getLogger(__name__)
REGISTRY = CollectorRegistry()
REQUESTS = Counter(
    "piano_api_requests_total", "HTTP requests", ["method", "route", "status"], registry=REGISTRY
)
LATENCY = Histogram(
    "piano_api_request_seconds", "HTTP request latency, seconds", ["method", "route"], registry=REGISTRY
)
JOBS_SUBMITTED = Counter(
    "piano_api_jobs_submitted_total", "jobs created (replays excluded)", registry=REGISTRY
)


class QueueCollector(Collector):
    """Jobs by status, oldest queued age and live workers, from the database when scraped."""

    def collect(self) -> Iterator[Metric]:
        session = get_session_factory()()
        try:
            stats = queue_stats(session, live_within_s=get_settings().worker_live_s)
        except Exception:  # a scrape must not fail because the database is briefly away
            logger.exception("queue metrics unavailable")
            return
        finally:
            session.close()
        jobs = GaugeMetricFamily("piano_jobs", "jobs by status", labels=["status"])
        for status, count in stats.counts.items():
            jobs.add_metric([status], count)
        yield jobs
        yield GaugeMetricFamily(
            "piano_queue_oldest_age_seconds",
            "age of the oldest queued job",
            value=stats.oldest_queued_age_s or 0,
        )
        yield GaugeMetricFamily("piano_workers_alive", "workers seen recently", value=len(stats.workers))
        latency = GaugeMetricFamily(
            "piano_job_latency_mean_seconds", "mean submit-to-finish time", labels=["window_s"]
        )
        for window in stats.windows:
            latency.add_metric([str(window.window_s)], window.mean_latency_s or 0.0)
        yield latency


REGISTRY.register(QueueCollector())


class MetricsMiddleware:
    """Count and time every request by its route template (not the raw path, to bound cardinality)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = _route_template(scope)
            REQUESTS.labels(scope["method"], route, str(status)).inc()
            LATENCY.labels(scope["method"], route).observe(time.perf_counter() - start)


def _route_template(scope: Scope) -> str:
    # The router stores the matched route in the scope; its template ("/v1/jobs/{job_id}") labels the metric.
    route = scope.get("route")
    return str(getattr(route, "path", "unmatched"))
