"""Streamlit building blocks shared by the pages: errors, audio analysis, the MIDI result view."""

from pathlib import Path

import pretty_midi
import streamlit as st

from piano_ai.constants import SAMPLE_RATE
from piano_ai.errors import PianoAIError
from piano_ai.types import FloatArray
from piano_dashboard import audio_tools, figures, midi_tools, roll_player, spelling, synthviz
from piano_dashboard.client import ApiError
from piano_dashboard.roll_player import AudioSource

PLOT_CONFIG = {"displaylogo": False, "scrollZoom": True}
VISUALIZER_PAGE = "app_pages/visualizer.py"  # as app.py routes it
NO_NOTES = "The MIDI file has no notes."
ROLL_BOX = "piano_roll_box"  # the container key the roll's player finds the chart by


def plural(count: int, noun: str) -> str:
    """'1 note', '2 notes', '0 notes'."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def show_api_error(error: ApiError, what: str = "The API refused the request") -> None:
    """The API's error code and message, for people; never a stack trace."""
    st.error(f"{what}: **{error.code}**: {error.message}", icon=":material/error:")


@st.cache_data(show_spinner="Decoding audio…", max_entries=8)
def _decode(filename: str, content: bytes) -> FloatArray:
    return audio_tools.decode_upload(filename, content)


@st.cache_data(show_spinner="Computing the spectrogram…", max_entries=8)
def _log_mel(samples: FloatArray) -> FloatArray:
    from piano_ai.features import log_mel

    return log_mel(samples)


@st.cache_data(show_spinner="Rendering the MIDI to audio…", max_entries=8)
def _render(midi: bytes) -> tuple[bytes, bytes, str]:
    samples, how = audio_tools.render_midi(midi)
    rate = audio_tools.RENDER_RATE
    return audio_tools.encode_wav(samples, rate), audio_tools.encode_ogg(samples, rate), how


@st.cache_data(show_spinner="Preparing the recording for the player…", max_entries=8)
def _ogg(samples: FloatArray) -> bytes:
    return audio_tools.encode_ogg(samples, SAMPLE_RATE)


def audio_analysis(filename: str, content: bytes) -> FloatArray | None:
    """Player, waveform and log-mel spectrogram of an upload; None (with a message shown) if undecodable."""
    problem = audio_tools.not_audio_reason(filename, content)
    if problem is not None and audio_tools.is_midi(content):
        st.warning(problem, icon=":material/queue_music:")
        st.page_link(VISUALIZER_PAGE, label="Open it in the MIDI visualizer", icon=":material/queue_music:")
        return None
    if problem is not None:
        st.error(problem, icon=":material/error:")
        return None
    try:
        samples = _decode(filename, content)
    except PianoAIError as exc:
        st.error(f"**{exc.code}**: {exc}", icon=":material/error:")
        return None
    st.caption(f"{filename}: {samples.size / SAMPLE_RATE:.1f} s, analysed at {SAMPLE_RATE} Hz mono")
    st.audio(content, format=_mime(filename))
    st.plotly_chart(figures.waveform(samples, SAMPLE_RATE), config=PLOT_CONFIG, key="waveform")
    st.plotly_chart(figures.spectrogram(_log_mel(samples)), config=PLOT_CONFIG, key="spectrogram")
    return samples


def _mime(filename: str) -> str:
    suffix = Path(filename).suffix.lower().lstrip(".")
    return {
        "mp3": "audio/mpeg",
        "m4a": "audio/mp4",
        "aac": "audio/aac",
        "ogg": "audio/ogg",
        "flac": "audio/flac",
    }.get(suffix, "audio/wav")


def midi_result(
    midi: bytes,
    name: str,
    original: FloatArray | None = None,
    no_notes: str | None = NO_NOTES,
    recording: AudioSource | None = None,
    key: str | None = None,
    duration_s: float | None = None,
) -> None:
    """Everything about one MIDI file: a piano roll that plays, instruments, statistics, listening, downloads.

    ``original``: the recording it was transcribed from (mono, SAMPLE_RATE), to listen side by side.
    ``no_notes``: the warning shown when the file has no notes (None: the caller said it already).
    ``recording``: the upload itself, for the player (else the mono copy, else only the MIDI rendering).
    ``key``: the piece's key (e.g. "Ab major") to spell pitch names in; ``duration_s``: the recording's
    length, seconds (else the original's, else up to the last note).
    """
    try:
        parsed = midi_tools.load_midi(midi)
    except ValueError as exc:
        st.error(f"**invalid_midi**: {name}: {exc}", icon=":material/error:")
        return
    rows = midi_tools.note_rows(parsed)
    names = [midi_tools.instrument_name(inst) for inst in parsed.instruments]
    if not rows and no_notes:
        st.warning(no_notes, icon=":material/music_off:")
    stem = Path(name).stem
    downloads = st.columns(3)
    downloads[0].download_button(
        "Download .mid", midi, f"{stem}.mid", "audio/midi", icon=":material/download:"
    )
    downloads[1].download_button("Notes CSV", midi_tools.notes_csv(rows), f"{stem}.csv", "text/csv")
    downloads[2].download_button(
        "Notes JSON", midi_tools.notes_json(rows), f"{stem}.json", "application/json"
    )
    if not rows:
        return
    if original is not None:
        recording = recording or AudioSource("Original recording", _ogg(original), "audio/ogg")
        duration_s = duration_s or original.size / SAMPLE_RATE
    wav, rendered_ogg, how = _render(midi)
    _playing_roll(rows, names, duration_s, key, recording, rendered_ogg)
    listen, viz, about = st.tabs(["Listen", "SynthViz", "Instruments & statistics"])
    with listen:
        _listen(wav, how, recording)
    with viz:
        _synthviz(rows, rendered_ogg, recording)
    with about:
        _instruments_and_stats(parsed, rows)


def _playing_roll(
    rows: list[midi_tools.NoteRow],
    names: list[str],
    duration_s: float | None,
    key: str | None,
    recording: AudioSource | None,
    rendered_ogg: bytes,
) -> None:
    """The piano roll, and under it the player that moves a playhead over it (roll_player)."""
    with st.container(key=ROLL_BOX):
        figure = figures.piano_roll(rows, names, duration_s, spelling.namer(key))
        st.plotly_chart(figure, config=PLOT_CONFIG, key="piano_roll")
    sources = [AudioSource("MIDI rendering", rendered_ogg, "audio/ogg")]
    if recording is not None and len(recording.data) <= roll_player.LARGEST_INLINE_BYTES:
        sources.insert(0, recording)
    st.iframe(roll_player.player_html(sources, ROLL_BOX), height=roll_player.HEIGHT_PX)
    spelled = f" Pitch names are spelled in {key}." if key else ""
    st.caption(
        "Press Play: the red line follows the music and the keys it plays light up. "
        f"Click the roll to play from there.{spelled}"
    )


def _instruments_and_stats(parsed: pretty_midi.PrettyMIDI, rows: list[midi_tools.NoteRow]) -> None:
    st.subheader("Instruments")
    st.dataframe(midi_tools.instruments_table(parsed), hide_index=True)
    st.subheader("Statistics")
    stats = midi_tools.note_stats(rows)
    top = st.columns(4)
    top[0].metric("Notes", stats["notes"])
    top[1].metric("Length", f"{stats['duration_s']:.1f} s")
    top[2].metric("Notes per second", stats["notes_per_s"])
    top[3].metric("Max polyphony", stats["max_polyphony"])
    bottom = st.columns(4)
    bottom[0].metric("Range", f"{stats['lowest']}–{stats['highest']}")
    bottom[1].metric("Mean note", f"{stats['mean_note_s']:.2f} s")
    bottom[2].metric("Velocity", f"{stats['velocity_mean']:.0f}", help="mean; min–max in the caption")
    bottom[3].metric("Top pitch classes", stats["top_pitch_classes"])
    st.caption(f"Velocity range {stats['velocity_min']}–{stats['velocity_max']}.")
    st.plotly_chart(figures.pitch_histogram(rows), config=PLOT_CONFIG, key="pitch_histogram")


def _listen(wav: bytes, how: str, recording: AudioSource | None) -> None:
    """The recording and the MIDI rendering side by side."""
    left, right = st.columns(2) if recording is not None else (None, st.container())
    if left is not None and recording is not None:
        left.markdown(f"**{recording.label}**")
        left.audio(recording.data, format=recording.mime)
    right.markdown("**MIDI rendering**")
    right.audio(wav, format="audio/wav")
    right.caption(f"Rendered with {how}.")


def _synthviz(rows: list[midi_tools.NoteRow], rendered_ogg: bytes, recording: AudioSource | None) -> None:
    source = "MIDI rendering"
    if recording is not None:
        source = st.radio("Play along with", ["MIDI rendering", recording.label], horizontal=True)
    chosen = recording if recording is not None and source == recording.label else None
    audio, mime = (chosen.data, chosen.mime) if chosen else (rendered_ogg, "audio/ogg")
    st.iframe(synthviz.synthviz_html(rows, audio, mime), height=synthviz.HEIGHT_PX + 60)
    st.caption("Press play: notes fall onto the keys as they sound. Seek or pause with the player.")
