"""Convert: upload a recording, look at it, transcribe it through the API, then see and hear the MIDI and
read its sheet music."""

import hashlib
import math

import streamlit as st

from piano_ai.constants import SUPPORTED_FORMATS
from piano_ai.settings import get_settings
from piano_dashboard import job_view, views
from piano_dashboard.client import ApiError, Job, JobParams
from piano_dashboard.session import get_client

POLL_S = 1.0  # seconds between status polls while a job runs
JOBS_KEY = "convert_jobs"  # st.session_state: upload digest -> job id


def fetch_job(job_id: str) -> Job:
    """The job, or an error message and the end of this run."""
    try:
        return get_client().get_job(job_id)
    except ApiError as error:
        views.show_api_error(error, "Could not read the job")
        st.stop()
        raise  # unreachable: st.stop() raises; keeps type checkers happy


@st.fragment(run_every=POLL_S)
def live_status(job_id: str) -> None:
    """Stage and progress of a running job; reruns the page once the job ends."""
    job = fetch_job(job_id)
    if job.is_terminal:
        st.rerun()
    stage = job.stage or ("waiting for a worker" if job.status == "queued" else "starting")
    st.progress(min(max(job.progress, 0.0), 1.0), text=f"**{job.status}** · {stage} · {job.progress:.0%}")
    if st.button("Cancel job", key=f"cancel-{job_id}", icon=":material/cancel:"):
        try:
            get_client().cancel(job_id)
        except ApiError as error:
            views.show_api_error(error, "Could not cancel")
        st.rerun()


def params_form() -> JobParams | None:
    """Threshold knobs; the chosen values when the user presses Transcribe, else None."""
    defaults = JobParams()
    with st.form("params", border=True):
        cols = st.columns(4)
        onset = cols[0].slider(
            "Onset threshold",
            0.05,
            0.95,
            defaults.onset_threshold,
            0.05,
            help="Lower finds more (and softer) notes; higher, fewer false notes.",
        )
        frame = cols[1].slider(
            "Frame threshold",
            0.05,
            0.95,
            defaults.frame_threshold,
            0.05,
            help="How sure the model must be that a note is still sounding (when notes end by the rule).",
        )
        offset = cols[2].slider(
            "Offset threshold",
            0.05,
            0.95,
            defaults.offset_threshold,
            0.05,
            help="How sure the model must be that a note has ended (when notes end by the rule).",
        )
        min_ms = cols[3].number_input(
            "Shortest note (ms)",
            0,
            5000,
            int(defaults.min_note_ms),
            5,
            help="Notes shorter than this are dropped.",
        )
        pedal = st.radio(
            "Sustain pedal",
            ("cc64", "extend"),
            index=("cc64", "extend").index(defaults.pedal),
            format_func={"cc64": "as pedal events (CC64)", "extend": "in the note lengths"}.get,
            horizontal=True,
            help="CC64 keeps the pedal for DAWs and notation; note lengths suit tools that ignore it.",
        )
        ends = st.radio(
            "Note ends",
            ("network", "rule"),
            index=("network", "rule").index(defaults.ends),
            format_func={"network": "chosen by a network", "rule": "by the frame and offset thresholds"}.get,
            horizontal=True,
            help="The network places key releases best; the rule follows the two thresholds.",
        )
        score = st.checkbox(
            "Sheet music",
            value=defaults.score,
            help="Track the beats and write the score (MusicXML); adds about 10 s per minute of audio.",
        )
        pressed = st.form_submit_button("Transcribe", type="primary", icon=":material/music_note:")
    if not pressed:
        return None
    return JobParams(
        onset_threshold=onset,
        frame_threshold=frame,
        offset_threshold=offset,
        min_note_ms=float(min_ms),
        pedal=pedal,
        ends=ends,
        score=score,
    )


st.title("Convert a piano recording to MIDI")
upload = st.file_uploader(
    "Piano recording",
    type=[*SUPPORTED_FORMATS, "mid", "midi"],  # a MIDI file gets a pointer to the visualizer, not a refusal
    max_upload_size=max(1, math.ceil(get_settings().max_upload_mb)),
)
if upload is None:
    st.info("Upload a piano recording (wav, flac, mp3, ogg, m4a or aac) to begin.", icon=":material/upload:")
    st.stop()

content = upload.getvalue()
digest = hashlib.sha256(content).hexdigest()
jobs: dict[str, str] = st.session_state.setdefault(JOBS_KEY, {})
with st.expander("The recording: waveform and spectrogram", expanded=digest not in jobs):
    samples = views.audio_analysis(upload.name, content)
if samples is None:
    st.stop()

# Open while there is nothing to show: no job yet, or one that failed or was canceled (run it again).
last = fetch_job(jobs[digest]) if digest in jobs else None
with st.expander("Transcription settings", expanded=last is None or last.status in ("failed", "canceled")):
    params = params_form()
if params is not None:
    try:
        jobs[digest] = get_client().submit(upload.name, content, params).id
    except ApiError as error:
        views.show_api_error(error, "The API rejected the file")
        st.stop()
if digest not in jobs:
    st.info("Choose the thresholds (the defaults suit most recordings) and press **Transcribe**.")
    st.stop()

job = last if params is None and last is not None else fetch_job(jobs[digest])
if not job.is_terminal:
    live_status(job.id)
    st.stop()
if job.status == "failed":
    failure = job.error
    code, message = (
        (failure.code, failure.message) if failure else ("unknown", "the job failed, no reason given")
    )
    st.error(f"Transcription failed: **{code}**: {message}", icon=":material/error:")
    st.stop()
if job.status == "canceled":
    st.warning("This job was canceled. Press **Transcribe** to run it again.", icon=":material/cancel:")
    st.stop()

heard = f" from {job.audio_duration_s:.1f} s of audio" if job.audio_duration_s is not None else ""
if job.note_count == 0:
    st.warning(
        f"No notes were heard{heard}. Is the recording silent? A lower onset threshold finds softer notes.",
        icon=":material/music_off:",
    )
else:
    count = views.plural(job.note_count, "note") if job.note_count is not None else "the notes"
    took = f" in {job.latency_s:.1f} s" if job.latency_s is not None else ""
    st.success(f"Transcribed {count}{heard}{took}.", icon=":material/check_circle:")
st.page_link(
    "app_pages/library.py", label="Its page in the library (a link to keep or share)",
    query_params={"job": job.id}, icon=":material/library_music:",
)  # fmt: skip
job_view.result(job, original=samples, silence_said=True)
