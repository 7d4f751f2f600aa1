"""Rows for the queue page's tables and charts, computed from API models (no Streamlit here)."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from piano_dashboard.client import Job, QueueStats

WINDOW_NAMES = {300: "last 5 min", 3600: "last hour", 86400: "last 24 h"}


def _local(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def age(seconds: float | None) -> str:
    """A duration in seconds for people: '42 s', '3 min 5 s', '2 h 10 min'."""
    if seconds is None:
        return "–"
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def job_rows(jobs: list[Job], statuses: Sequence[str], text: str = "") -> list[dict[str, Any]]:
    """Table rows for the jobs in ``statuses`` whose filename or id contains ``text``.

    Stage and progress only while they mean something: a failed or canceled job shows neither (not the
    "decoding, 10%" it stopped at). None is a missing value, for the page to show as an empty cell.
    """
    needle = text.strip().lower()
    rows = []
    for job in jobs:
        if job.status not in statuses:
            continue
        if needle and needle not in job.filename.lower() and needle not in job.id:
            continue
        rows.append(
            {
                "id": job.id[:8],
                "file": job.filename,
                "status": job.status,
                "stage": (job.stage or "starting") if job.status == "running" else "",
                "progress": _progress(job),
                "audio (s)": round(job.audio_duration_s, 1) if job.audio_duration_s is not None else None,
                "wait (s)": _seconds(job.wait_s),
                "work (s)": _seconds(job.work_s),
                "notes": job.note_count,
                "submitted (UTC)": _local(job.created_at),
                "attempts": job.attempts,
                "error": f"{job.error.code}: {job.error.message}" if job.error else "",
            }
        )
    return rows


def _seconds(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


def _progress(job: Job) -> float | None:
    if job.status in ("failed", "canceled"):
        return None
    return 1.0 if job.status == "succeeded" else min(max(job.progress, 0.0), 1.0)


def window_rows(stats: QueueStats) -> list[dict[str, Any]]:
    """Throughput (jobs per hour) and mean latency for each window the API reports."""
    rows = []
    for window in sorted(stats.windows, key=lambda w: w.window_s):
        rows.append(
            {
                "window": WINDOW_NAMES.get(window.window_s, f"last {window.window_s} s"),
                "finished": window.finished,
                "failed": window.failed,
                "jobs / hour": round(window.finished * 3600 / window.window_s, 1),
                "mean latency": age(window.mean_latency_s),
            }
        )
    return rows


def latency_points(jobs: list[Job]) -> list[dict[str, Any]]:
    """One point per finished job: when it finished and how long it took from submission (seconds)."""
    return [
        {"finished": job.finished_at, "latency (s)": job.latency_s, "status": job.status}
        for job in jobs
        if job.finished_at is not None and job.latency_s is not None
    ]


def worker_rows(stats: QueueStats, now: datetime) -> list[dict[str, Any]]:
    """Workers seen, most recent first: what each runs now, its jobs' outcomes, when it was last heard."""
    workers = sorted(
        stats.workers, key=lambda w: w.last_seen or datetime.min.replace(tzinfo=UTC), reverse=True
    )
    return [
        {
            "worker": w.name,
            "current job": w.current_job[:8] if w.current_job else ("busy" if w.busy else "idle"),
            "processed": w.processed,
            "failed": w.failed,
            "last seen (UTC)": _local(w.last_seen),
            "ago": age((now - w.last_seen).total_seconds()) if w.last_seen else "–",
        }
        for w in workers
    ]


def timeline_rows(job: Job) -> list[dict[str, str]]:
    """A job's timestamps in order (UTC), each with the time since the previous one."""
    moments = [
        ("submitted", job.created_at),
        ("sent to the queue", job.enqueued_at),
        ("started by a worker", job.started_at),
        ("canceled", job.canceled_at),
        ("finished", job.finished_at),
        ("last updated", job.updated_at),
    ]
    rows, previous = [], None
    for event, moment in moments:
        if moment is None:
            continue
        after = age((moment - previous).total_seconds()) if previous and event != "last updated" else ""
        rows.append({"event": event, "time (UTC)": _local(moment), "after": after})
        previous = moment if event != "last updated" else previous
    return rows


def job_label(job: Job) -> str:
    """How a job is named in a picker: file, short id, status."""
    return f"{job.filename} · {job.id[:8]} · {job.status}"
