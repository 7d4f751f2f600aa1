"""Queue: counts and depth history, active jobs, throughput and latency, workers, errors, recent jobs, and
one job's detail (timestamps, attempts, worker, error, links; retry, cancel, delete); refreshes by itself."""

from datetime import UTC, datetime

import pandas as pd
import plotly.express as px
import streamlit as st

from piano_dashboard import figures, queue_tables, views
from piano_dashboard.client import ACTIVE, STATUSES, TERMINAL, ApiError, Job, QueueStats
from piano_dashboard.session import get_client

REFRESH_S = 5  # seconds between automatic refreshes
RECENT_JOBS = 200  # jobs fetched for the table and the latency chart
SHOWN_ACTIVE = 20  # queued/running jobs listed with a cancel button
HISTORY_WINDOWS = {"last hour": 3600, "last 6 hours": 6 * 3600, "last 24 hours": 86400}  # seconds
NOTICE_KEY = "queue_notice"  # st.session_state: outcome of the last cancel, retry or delete, shown once
LIBRARY_PAGE = "app_pages/library.py"  # as app.py routes it; ?job=<id> opens one job
EMPTY_CELL = ""  # how tables show a missing value (Streamlit's default is "None")


def act(action: str, job_id: str, filename: str) -> None:
    """Button callback: cancel, retry or delete through the API; remember the outcome for the next run."""
    client = get_client()
    try:
        if action == "delete":
            client.delete(job_id)
            st.session_state[NOTICE_KEY] = ("success", f"{filename}: deleted")
            return
        job = client.cancel(job_id) if action == "cancel" else client.retry(job_id)
        st.session_state[NOTICE_KEY] = ("success", f"{filename}: {job.status}")
    except ApiError as error:
        st.session_state[NOTICE_KEY] = (
            "error",
            f"Could not {action} {filename}: **{error.code}**: {error.message}",
        )


def counts_and_depth(stats: QueueStats) -> None:
    cols = st.columns(len(STATUSES) + 1)
    for col, status in zip(cols, STATUSES, strict=False):
        col.metric(status.capitalize(), stats.counts.get(status, 0))
    cols[-1].metric("Oldest queued", queue_tables.age(stats.oldest_queued_age_s))
    window = st.selectbox("Queue depth over the", list(HISTORY_WINDOWS), key="depth_window")
    try:
        history = get_client().queue_history(HISTORY_WINDOWS[window])
    except ApiError as error:
        views.show_api_error(error, "Could not read the queue's history")
        return
    samples = [point.model_dump() for point in history.points]
    title = f"Queue depth, {window} (from the job table)"
    st.plotly_chart(figures.queue_depth(samples, title), config=views.PLOT_CONFIG, key="depth")


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
            on_click=act,
            args=("cancel", job.id, job.filename),
            icon=":material/cancel:",
        )


def job_detail(jobs: list[Job]) -> None:
    """One job picked from the recent ones: every timestamp, attempts, worker, error, links and actions."""
    st.subheader("Job detail")
    if not jobs:
        st.caption("No jobs yet.")
        return
    by_id = {job.id: job for job in jobs}
    picked = st.selectbox(
        "Job", list(by_id), format_func=lambda i: queue_tables.job_label(by_id[i]), key="detail_job"
    )
    job = by_id.get(picked or "", jobs[0])
    facts = st.columns(5)
    facts[0].metric("Status", job.status)
    facts[1].metric("Attempts", job.attempts)
    facts[2].metric("Wait", queue_tables.age(job.wait_s), help="queue wait of its latest attempt")
    facts[3].metric("Work", queue_tables.age(job.work_s), help="a worker's time on its latest attempt")
    facts[4].metric("Notes", job.note_count if job.note_count is not None else "–")
    st.markdown(f"**Worker:** `{job.worker}`" if job.worker else "**Worker:** none yet")
    if job.error:
        st.error(f"**{job.error.code}**: {job.error.message}", icon=":material/error:")
    st.dataframe(queue_tables.timeline_rows(job), hide_index=True, placeholder=EMPTY_CELL)
    links = st.columns(4, vertical_alignment="center")
    links[0].page_link(LIBRARY_PAGE, label="Open in the Library", query_params={"job": job.id})
    links[1].markdown(f"API: `/v1/jobs/{job.id}`")
    if job.status in ("failed", "canceled"):
        links[2].button(
            "Retry", key=f"retry-{job.id}", on_click=act, args=("retry", job.id, job.filename),
            icon=":material/replay:", help="a new attempt on the same upload",
        )  # fmt: skip
    elif job.status in ACTIVE:
        links[2].button(
            "Cancel", key=f"detail-cancel-{job.id}", on_click=act, args=("cancel", job.id, job.filename),
            icon=":material/cancel:",
        )  # fmt: skip
    if job.status in TERMINAL:
        links[3].button(
            "Delete", key=f"delete-{job.id}", on_click=act, args=("delete", job.id, job.filename),
            icon=":material/delete:", help="the job, its upload and its results",
        )  # fmt: skip


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
    job_detail(jobs)
    st.caption(f"Updated {datetime.now(UTC):%H:%M:%S} UTC.")


st.title("Queue")
auto = st.toggle(f"Refresh every {REFRESH_S} s", value=True)
st.fragment(panel, run_every=REFRESH_S if auto else None)()
