"""Library: every transcription, newest first; search by name, filter by status; open one (its own URL,
?job=<id>, survives a reload and can be shared) to see, hear, re-decode and download it; delete it."""

import streamlit as st

from piano_dashboard import job_view, views
from piano_dashboard.client import STATUSES, ApiError, Job
from piano_dashboard.session import get_client

PAGE = "app_pages/library.py"  # as app.py routes it
JOB_PARAM = "job"  # the query parameter naming the open job
SHOWN = 50  # jobs listed at first; "Show more" adds as many (the API sends at most 200)
MOST = 200
LIMIT_KEY = "library_limit"
NOTICE_KEY = "library_notice"  # st.session_state: the outcome of the last delete, shown once
ALL = "all"


def delete(job: Job) -> None:
    """Button callback: delete through the API, remember the outcome, close the job if it was open."""
    try:
        get_client().delete(job.id)
    except ApiError as error:
        st.session_state[NOTICE_KEY] = (
            "error",
            f"Could not delete {job.filename}: **{error.code}**: {error.message}",
        )
        return
    job_view.forget(job.id)
    st.query_params.pop(JOB_PARAM, None)
    st.session_state[NOTICE_KEY] = ("success", f"Deleted {job.filename}.")


def delete_button(job: Job, where: st.delta_generator.DeltaGenerator) -> None:
    with where.popover("Delete", icon=":material/delete:"):
        st.write(f"Delete **{job.filename}**, its notes, MIDI and stored model outputs?")
        st.button("Delete for good", key=f"delete-{job.id}", on_click=delete, args=(job,), type="primary")


def when(job: Job) -> str:
    return f"{job.created_at:%Y-%m-%d %H:%M}" if job.created_at else ""


def show_notice() -> None:
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        (st.success if notice[0] == "success" else st.error)(notice[1])


def open_job(job_id: str) -> None:
    """One job's page: what it is, then its result (or why there is none)."""
    st.page_link(PAGE, label="Library", icon=":material/arrow_back:")
    try:
        job = get_client().get_job(job_id)
    except ApiError as error:
        views.show_api_error(error, "Could not open the job")
        st.stop()
    title, actions = st.columns([5, 1], vertical_alignment="bottom")
    title.header(job.filename)
    length = f" · {job.audio_duration_s:.1f} s of audio" if job.audio_duration_s is not None else ""
    title.caption(f"{job.status} · transcribed {when(job)} UTC{length} · job `{job.id}`")
    if job.is_terminal:
        delete_button(job, actions)
    if job.status == "succeeded":
        job_view.result(job)
    elif job.status == "failed":
        reason = f"**{job.error.code}**: {job.error.message}" if job.error else "no reason given"
        st.error(f"Transcription failed: {reason}", icon=":material/error:")
    elif job.status == "canceled":
        st.warning("This job was canceled. Upload the recording again on the Convert page.")
    else:
        st.info(f"This job is {job.status} ({job.progress:.0%}); reload to see its result once it is done.")


def job_row(job: Job) -> None:
    name, status, created, length, notes, actions = st.columns(
        [4, 1.2, 1.6, 1, 1, 1.4], vertical_alignment="center"
    )
    name.page_link(PAGE, label=job.filename, query_params={JOB_PARAM: job.id}, icon=":material/music_note:")
    status.write(job.status)
    created.write(when(job))
    length.write(f"{job.audio_duration_s:.1f} s" if job.audio_duration_s is not None else "")
    notes.write(views.plural(job.note_count, "note") if job.note_count is not None else "")
    if job.is_terminal:
        delete_button(job, actions)


def job_list() -> None:
    left, right = st.columns([3, 1])
    query = left.text_input("Search by name", key="library_q", placeholder="part of a file name")
    status = right.selectbox("Status", [ALL, *STATUSES], key="library_status")
    limit = st.session_state.setdefault(LIMIT_KEY, SHOWN)
    try:
        page = get_client().list_jobs(
            status=None if status == ALL else status, limit=limit, q=query.strip() or None
        )
    except ApiError as error:
        views.show_api_error(error, "Could not read the library")
        st.stop()
    if not page.items:
        found = "No transcription matches." if query or status != ALL else "No transcriptions yet."
        st.info(f"{found} Convert a recording and it is kept here.", icon=":material/library_music:")
        return
    for job in page.items:
        job_row(job)
    st.caption(f"{views.plural(len(page.items), 'transcription')}, newest first.")
    if page.next_cursor and limit < MOST:
        st.button(
            "Show more", on_click=lambda: st.session_state.update({LIMIT_KEY: min(limit + SHOWN, MOST)})
        )


st.title("Library")
show_notice()
if job_id := st.query_params.get(JOB_PARAM):
    # A page link to this same page runs it with the query but leaves the address bar bare: write it back,
    # so the address is the job's own (to bookmark, share or reload).
    st.query_params[JOB_PARAM] = job_id
    open_job(job_id)
else:
    job_list()
