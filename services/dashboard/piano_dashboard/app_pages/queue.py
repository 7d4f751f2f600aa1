"""Queue: counts, throughput and latency, workers, errors and recent jobs; refreshes by itself."""

from datetime import UTC, datetime

import pandas as pd
import plotly.express as px
import streamlit as st

from piano_dashboard import figures, queue_tables, views
from piano_dashboard.client import ACTIVE, STATUSES, ApiError, Job, QueueStats
from piano_dashboard.session import get_client

REFRESH_S = 5  # seconds between automatic refreshes
RECENT_JOBS = 200  # jobs fetched for the table and the latency chart
SHOWN_ACTIVE = 20  # queued/running jobs listed with a cancel button
HISTORY_KEY = "queue_history"  # st.session_state: queue depth samples taken at each refresh
HISTORY_POINTS = 720  # an hour of samples at REFRESH_S
NOTICE_KEY = "queue_notice"  # st.session_state: outcome of the last cancel, shown once
EMPTY_CELL = ""  # how tables show a missing value (Streamlit's default is "None")


def cancel(job_id: str, filename: str) -> None:
    """Button callback: ask the API to cancel, remember the outcome for the next run."""
    try:
        job = get_client().cancel(job_id)
        st.session_state[NOTICE_KEY] = ("success", f"{filename}: {job.status}")
    except ApiError as error:
        st.session_state[NOTICE_KEY] = (
            "error",
            f"Could not cancel {filename}: **{error.code}**: {error.message}",
        )


def counts_and_depth(stats: QueueStats) -> None:
    cols = st.columns(len(STATUSES) + 1)
    for col, status in zip(cols, STATUSES, strict=False):
        col.metric(status.capitalize(), stats.counts.get(status, 0))
    cols[-1].metric("Oldest queued", queue_tables.age(stats.oldest_queued_age_s))
    history: list[dict[str, object]] = st.session_state.setdefault(HISTORY_KEY, [])
    history.append({"time": datetime.now(UTC), **{s: stats.counts.get(s, 0) for s in ACTIVE}})
    del history[:-HISTORY_POINTS]
    if len(history) > 1:
        st.plotly_chart(figures.queue_depth(history), config=views.PLOT_CONFIG, key="depth")


def throughput_and_latency(stats: QueueStats, jobs: list[Job]) -> None:
    left, right = st.columns(2)
    with left:
        st.subheader("Throughput and latency")
        st.dataframe(queue_tables.window_rows(stats), hide_index=True, placeholder=EMPTY_CELL)
    with right:
        points = queue_tables.latency_points(jobs)
        if points:
            fig = px.scatter(
                pd.DataFrame(points),
                x="finished",
                y="latency (s)",
                color="status",
                title="Latency of recent jobs (submission to end)",
                height=260,
            )
            st.plotly_chart(fig, config=views.PLOT_CONFIG, key="latency")
        else:
            st.caption("No finished jobs yet.")


def workers_and_errors(stats: QueueStats) -> None:
    left, right = st.columns(2)
    with left:
        st.subheader("Workers")
        if stats.workers:
            st.dataframe(
                queue_tables.worker_rows(stats, datetime.now(UTC)), hide_index=True, placeholder=EMPTY_CELL
            )
        else:
            st.warning("No worker has been seen: queued jobs will wait.", icon=":material/warning:")
    with right:
        st.subheader("Errors by code")
        if stats.errors_by_code:
            errors = [{"code": code, "jobs": n} for code, n in sorted(stats.errors_by_code.items())]
            st.dataframe(errors, hide_index=True, placeholder=EMPTY_CELL)
        else:
            st.caption("No failed jobs.")


def jobs_table(jobs: list[Job]) -> None:
    st.subheader("Recent jobs")
    left, right = st.columns([2, 1])
    statuses = left.multiselect("Status", STATUSES, default=list(STATUSES), key="status_filter")
    text = right.text_input("File name or id contains", key="text_filter")
    rows = queue_tables.job_rows(jobs, statuses, text)
    columns = {
        "file": st.column_config.TextColumn(width="medium"),
        "stage": st.column_config.TextColumn(width="medium"),
        "progress": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="percent"),
        "error": st.column_config.TextColumn(width="large", help="code: message"),
    }
    st.dataframe(rows, hide_index=True, column_config=columns, placeholder=EMPTY_CELL)
    st.caption(f"{len(rows)} of the {len(jobs)} most recent jobs.")


def active_jobs(jobs: list[Job]) -> None:
    active = [job for job in jobs if job.status in ACTIVE][:SHOWN_ACTIVE]
    if not active:
        return
    st.subheader("Queued and running")
    for job in active:
        name, state, button = st.columns([3, 2, 1], vertical_alignment="center")
        name.write(f"`{job.id[:8]}` {job.filename}")
        done = min(max(job.progress, 0.0), 1.0)
        doing = (
            f"{job.stage or 'starting'} · {done:.0%}" if job.status == "running" else "waiting for a worker"
        )
        state.progress(done, text=f"{job.status} · {doing}")
        button.button(
            "Cancel",
            key=f"cancel-{job.id}",
            on_click=cancel,
            args=(job.id, job.filename),
            icon=":material/cancel:",
        )


def panel() -> None:
    """Everything that refreshes: one /v1/queue and one /v1/jobs call per refresh."""
    try:
        stats = get_client().queue()
        jobs = get_client().list_jobs(limit=RECENT_JOBS).items
    except ApiError as error:
        views.show_api_error(error, "Could not read the queue")
        return
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        (st.success if notice[0] == "success" else st.error)(notice[1])
    counts_and_depth(stats)
    active_jobs(jobs)
    throughput_and_latency(stats, jobs)
    workers_and_errors(stats)
    jobs_table(jobs)
    st.caption(f"Updated {datetime.now(UTC):%H:%M:%S} UTC.")


st.title("Queue")
auto = st.toggle(f"Refresh every {REFRESH_S} s", value=True)
st.fragment(panel, run_every=REFRESH_S if auto else None)()
