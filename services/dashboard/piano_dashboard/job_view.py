"""One finished job's result page: threshold sliders that re-decode its notes through the API (no model
run), the note count before and after, then the piano roll, listening and downloads for those notes.

Used by the Library (a job opened from the list or from its own URL, ?job=<id>) and by Convert.
"""

from typing import Any

import streamlit as st

from piano_ai.types import FloatArray
from piano_dashboard import sheet_music, views
from piano_dashboard.client import ApiError, Decoded, Job, JobParams
from piano_dashboard.roll_player import AudioSource
from piano_dashboard.session import get_client

MIDI_KEY = "job_midi"  # st.session_state: (job id, params) -> MIDI bytes of those notes
DECODED_KEY = "job_decoded"  # st.session_state: (job id, params) -> Decoded
AUDIO_KEY = "job_audio"  # st.session_state: job id -> AudioSource of its upload (or None: unavailable)
AUDIO_CACHED = 3  # uploads kept (each up to the API's upload limit)
CACHED = 24  # entries kept per cache (a MIDI file of a long piece is a few hundred kB)
SLIDER_STEP = 0.05


def _cache(name: str) -> dict[Any, Any]:
    cache: dict[Any, Any] = st.session_state.setdefault(name, {})
    while len(cache) > CACHED:
        cache.pop(next(iter(cache)))
    return cache


def _key(job: Job, params: JobParams) -> tuple[Any, ...]:
    return (job.id, job.updated_at, *params.model_dump().values())


def forget(job_id: str) -> None:
    """Drop what is cached for a job (after its parameters were saved, or it was deleted)."""
    for name in (MIDI_KEY, DECODED_KEY):
        cache = _cache(name)
        for key in [k for k in cache if k[0] == job_id]:
            del cache[key]
    st.session_state.setdefault(AUDIO_KEY, {}).pop(job_id, None)


def recording(job: Job) -> AudioSource | None:
    """The job's upload as the API stores it (not a 16 kHz copy), for the player; None if unavailable."""
    cache: dict[str, AudioSource | None] = st.session_state.setdefault(AUDIO_KEY, {})
    if job.id not in cache:
        try:
            data, mime = get_client().get_audio(job.id)
            cache[job.id] = AudioSource("Original recording", data, mime)
        except ApiError as error:
            st.caption(f"The original recording cannot be played: {error.code}: {error.message}")
            cache[job.id] = None
        while len(cache) > AUDIO_CACHED:
            cache.pop(next(iter(cache)))
    return cache.get(job.id)


def chosen_params(job: Job) -> JobParams:
    """Sliders starting at the job's own parameters; what they are set to now."""
    own = job.params
    cols = st.columns(4)
    onset = cols[0].slider(
        "Onset threshold", 0.05, 0.95, own.onset_threshold, SLIDER_STEP, key=f"onset-{job.id}",
        help="Lower finds more (and softer) notes; higher, fewer false notes.",
    )  # fmt: skip
    frame = cols[1].slider(
        "Frame threshold", 0.05, 0.95, own.frame_threshold, SLIDER_STEP, key=f"frame-{job.id}",
        help="How sure the model must be that a note is still sounding (when notes end by the rule).",
    )  # fmt: skip
    offset = cols[2].slider(
        "Offset threshold", 0.05, 0.95, own.offset_threshold, SLIDER_STEP, key=f"offset-{job.id}",
        help="How sure the model must be that a note has ended (when notes end by the rule).",
    )  # fmt: skip
    min_ms = cols[3].slider(
        "Shortest note (ms)", 0, 500, int(own.min_note_ms), 5, key=f"min-ms-{job.id}",
        help="Notes shorter than this are dropped.",
    )  # fmt: skip
    return JobParams(
        onset_threshold=round(onset, 2),
        frame_threshold=round(frame, 2),
        offset_threshold=round(offset, 2),
        min_note_ms=float(min_ms),
        ends=own.ends,
    )


def _notes_midi(job: Job, params: JobParams) -> tuple[int, bytes] | None:
    """(note count, MIDI bytes) for ``params``: the job's own files, or decoded again by the API."""
    key = _key(job, params)
    midi_cache, decoded_cache = _cache(MIDI_KEY), _cache(DECODED_KEY)
    try:
        if params == job.params:
            if key not in midi_cache:
                midi_cache[key] = get_client().get_midi(job.id)
            return job.note_count or 0, midi_cache[key]
        if key not in decoded_cache:
            decoded_cache[key] = get_client().decode(job.id, params)
        decoded: Decoded = decoded_cache[key]
        if key not in midi_cache:
            midi_cache[key] = get_client().download(decoded.links.midi)
        return decoded.note_count, midi_cache[key]
    except ApiError as error:
        views.show_api_error(error, "Could not decode the notes")
        return None


def _save(job: Job, params: JobParams) -> None:
    """Button callback: make ``params`` the job's own through the API."""
    try:
        get_client().save_params(job.id, params)
    except ApiError as error:
        st.session_state["job_notice"] = f"Could not save: **{error.code}**: {error.message}"
        return
    forget(job.id)
    st.session_state["job_notice"] = "Saved: these are now the job's own settings, notes and MIDI."


def result(job: Job, original: FloatArray | None = None, silence_said: bool = False) -> None:
    """Sliders, note counts and the full MIDI result of a succeeded job.

    ``original``: the recording (mono, SAMPLE_RATE) to listen side by side; ``silence_said``: the caller
    already said the job found no notes (not repeated at the job's own settings).
    """
    with st.expander("Note detection: try other thresholds (instant, no new transcription)", expanded=True):
        params = chosen_params(job)
        got = _notes_midi(job, params)
        if got is None:
            return
        count, midi = got
        own = job.note_count or 0
        left, right = st.columns([1, 3], vertical_alignment="center")
        left.metric(
            "Notes with these settings", count, delta=count - own if params != job.params else None,
            help="the job's own settings give the count below; the delta is the change",
        )  # fmt: skip
        right.caption(f"The job's own settings give {views.plural(own, 'note')}.")
        if params != job.params:
            right.button(
                "Save as the job's settings", key=f"save-{job.id}", on_click=_save, args=(job, params),
                icon=":material/save:", help="its stored notes and MIDI (API downloads included) follow",
            )  # fmt: skip
        if notice := st.session_state.pop("job_notice", None):
            right.info(notice, icon=":material/info:")
    no_notes = "No notes with these settings: a lower onset threshold finds softer notes."
    quiet = count > 0 or (silence_said and params == job.params)
    views.midi_result(
        midi,
        job.filename,
        original=original,
        no_notes=None if quiet else no_notes,
        recording=recording(job),
        key=job.score.key if job.score else None,
        duration_s=job.audio_duration_s,
    )
    sheet_music.sheet_music(get_client(), job)
