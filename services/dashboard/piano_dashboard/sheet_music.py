"""The "Sheet music" view: a job's MusicXML (from the API) engraved to SVG pages by verovio; downloads of the
MusicXML and of the quantized MIDI (the score's notes at one tempo)."""

from pathlib import Path

import streamlit as st

from piano_dashboard.client import ApiError, Job, JobsApi

MUSICXML_TYPE = "application/vnd.recordare.musicxml+xml"
# verovio's page in its units (tenths of a mm at scale 100): A4 portrait; SCALE_PERCENT shrinks the music
# so that a system holds a few bars; the page height shrinks to what a page holds (adjustPageHeight).
PAGE_WIDTH = 2100
PAGE_HEIGHT = 2970
SCALE_PERCENT = 40
SCORE_KEY = "sheet_music_xml"  # st.session_state: job id -> MusicXML bytes
SCORE_MIDI_KEY = "sheet_music_midi"  # st.session_state: job id -> quantized MIDI bytes, or an ApiError


@st.cache_data(show_spinner="Engraving the score…", max_entries=8)
def engrave(musicxml: bytes) -> list[str]:
    """The score as SVG pages (one SVG document per page); [] when verovio cannot read it."""
    import verovio

    verovio.enableLog(verovio.LOG_OFF)
    # The fonts' folder named explicitly: a toolkit made in a fresh thread (each Streamlit session runs its
    # script in one) does not always find verovio's default resource path.
    toolkit = verovio.toolkit(False)
    toolkit.setResourcePath(str(Path(verovio.__file__).parent / "data"))
    toolkit.setOptions(
        {
            "pageWidth": PAGE_WIDTH,
            "pageHeight": PAGE_HEIGHT,
            "scale": SCALE_PERCENT,
            "adjustPageHeight": True,
            "breaks": "auto",
            "footer": "none",
        }
    )
    if not toolkit.loadData(musicxml.decode("utf-8")):
        return []
    return [toolkit.renderToSVG(page) for page in range(1, toolkit.getPageCount() + 1)]


def summary(job: Job) -> str:
    """One line about the score: key, meter, tempo, pedal marks."""
    info = job.score
    if info is None:
        return ""
    parts = [info.key, info.time_signature, f"♩ = {info.tempo_bpm:.0f}" if info.tempo_bpm else None]
    if info.pedal_marks:
        parts.append(f"{info.pedal_marks} pedal marks")
    return " · ".join(p for p in parts if p)


def quantized_midi(client: JobsApi, job: Job) -> bytes | ApiError:
    """The job's quantized MIDI, fetched once per session; the API's error when it has none (jobs scored
    before it existed)."""
    cache: dict[str, bytes | ApiError] = st.session_state.setdefault(SCORE_MIDI_KEY, {})
    if job.id not in cache:
        try:
            cache[job.id] = client.get_score_midi(job.id)
        except ApiError as error:
            cache[job.id] = error
    return cache[job.id]


def sheet_music(client: JobsApi, job: Job) -> None:
    """The job's score, a page at a time, with MusicXML and quantized MIDI downloads; a note when the beat
    was not found."""
    st.subheader("Sheet music")
    if job.links is None or job.links.score is None:
        reason = job.score.note if job.score is not None and job.score.note else "it was not asked for"
        st.info(f"No sheet music for this job: {reason}.", icon=":material/music_off:")
        return
    cache: dict[str, bytes] = st.session_state.setdefault(SCORE_KEY, {})
    if job.id not in cache:
        try:
            cache[job.id] = client.get_score(job.id)
        except ApiError as error:
            st.error(
                f"Could not download the score: **{error.code}**: {error.message}", icon=":material/error:"
            )
            return
    musicxml = cache[job.id]
    if job.score is not None and not job.score.found:
        st.warning(f"{job.score.note}: the bars are at 120 bpm in 4/4.", icon=":material/timer_off:")
    pages = engrave(musicxml)
    stem = Path(job.filename).stem or "transcription"
    top = st.columns([2, 1, 1])
    top[0].caption(summary(job))
    top[1].download_button(
        "Download MusicXML", musicxml, f"{stem}.musicxml", MUSICXML_TYPE, icon=":material/download:"
    )
    midi = quantized_midi(client, job)
    if isinstance(midi, bytes):
        top[2].download_button(
            "Download quantized MIDI",
            midi,
            f"{stem}.quantized.mid",
            "audio/midi",
            icon=":material/download:",
            help="the notes of the score on its beat grid, at one tempo (the metronome mark)",
        )
    else:
        top[2].caption(f"No quantized MIDI: {midi.message}")
    if not pages:
        st.error(
            "The score could not be engraved; the MusicXML download still holds it.", icon=":material/error:"
        )
        return
    page = 1
    if len(pages) > 1:
        page = int(st.number_input(f"Page (of {len(pages)})", 1, len(pages), 1, key=f"score-page-{job.id}"))
    st.image(pages[page - 1], width="stretch")
