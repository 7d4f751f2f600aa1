"""Queue depth over a past window, from the job rows (not from samples someone took while watching).

Each job counts as queued from its creation until a worker started it (or it ended unstarted), and as
running from then until it finished or was canceled. A job's row holds its latest attempt only, so a
retried job counts from its creation with that attempt's start; deleted jobs are gone from the history.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from piano_ai.db.models import ACTIVE_STATUSES, Job, utcnow


@dataclass(frozen=True)
class Span:
    """One job's life, seconds since the epoch: queued [created, started or end), running [started, end)."""

    created: float
    started: float | None  # None: no worker started it
    ended: float | None  # None: still queued or running


@dataclass(frozen=True)
class DepthPoint:
    time: datetime
    queued: int  # jobs waiting at ``time``
    running: int  # jobs being worked on at ``time``


def depth_at(spans: list[Span], times: list[float]) -> list[tuple[int, int]]:
    """(queued, running) at each of ``times`` (seconds since the epoch), counted from ``spans``."""
    inf = float("inf")
    t = np.asarray(times, dtype=np.float64)
    queued_from = np.sort([s.created for s in spans])
    queued_to = np.sort([_first(s.started, s.ended, inf) for s in spans])
    running = [s for s in spans if s.started is not None]
    running_from = np.sort([s.started for s in running])
    running_to = np.sort([_first(s.ended, inf) for s in running])

    def alive(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        # started at or before t minus ended at or before t: each interval [start, end) holding t
        return np.searchsorted(starts, t, side="right") - np.searchsorted(ends, t, side="right")

    counts = zip(alive(queued_from, queued_to), alive(running_from, running_to), strict=True)
    return [(int(q), int(r)) for q, r in counts]


def _first(*values: float | None) -> float:
    return next(v for v in values if v is not None)


def span(job: Job) -> Span:
    """The job row's life (its latest attempt)."""
    active = job.status in [s.value for s in ACTIVE_STATUSES]
    end = None if active else (job.finished_at or job.canceled_at or job.updated_at)
    started = job.started_at
    if started is not None and end is not None and started > end:  # canceled while queued, then retried
        started = None
    return Span(
        job.created_at.timestamp(),
        started.timestamp() if started else None,
        end.timestamp() if end else None,
    )


def depth_history(
    session: Session, window_s: float, points: int, now: datetime | None = None
) -> list[DepthPoint]:
    """Queued and running jobs at ``points`` evenly spaced times over the last ``window_s`` seconds."""
    now = now or utcnow()
    start = now - timedelta(seconds=window_s)
    rows = session.scalars(
        select(Job).where(
            Job.created_at <= now,
            or_(Job.status.in_([s.value for s in ACTIVE_STATUSES]), Job.updated_at >= start),
        )
    ).all()
    step = window_s / max(points - 1, 1)
    times = [start + timedelta(seconds=i * step) for i in range(points)]
    counts = depth_at([span(job) for job in rows], [t.timestamp() for t in times])
    return [DepthPoint(t, q, r) for t, (q, r) in zip(times, counts, strict=True)]
