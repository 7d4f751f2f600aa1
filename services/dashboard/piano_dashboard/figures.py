"""Plotly figures: piano roll (with a keyboard along its pitch axis), waveform, log-mel spectrogram, pitch
histogram, queue depth.

Long inputs are reduced before plotting (min/max envelopes, max-pooled spectrogram columns) so a
three-minute recording stays a light page.
"""

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import plotly.colors
import plotly.graph_objects as go

from piano_ai.constants import HIGHEST_KEY, LOWEST_KEY, MEL_FMAX, MEL_FMIN, N_MELS, SECONDS_PER_FRAME
from piano_ai.mel import mel_frequencies
from piano_ai.types import FloatArray
from piano_dashboard.midi_tools import NoteRow, pitch_name

WAVEFORM_POINTS = 2_000  # envelope columns drawn for any length of audio
SILENT_PEAK = 1e-4  # amplitude (full scale = 1.0) below which a recording is drawn as silent (-80 dBFS)
SPECTROGRAM_COLUMNS = 1_000  # spectrogram time columns drawn at most (32 ms each up to 32 s)
VELOCITY_SCALE = "Viridis"  # piano-roll colours of a single-track file, velocity 1 -> 127
TRACK_COLORS = ("#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#FF9DA6", "#9D755D")
ROLL_HEIGHT_PX = 480
BLACK_KEYS = frozenset({1, 3, 6, 8, 10})  # pitch classes of the black keys (C = 0)
BLACK_ROW = "rgba(128, 128, 128, 0.10)"  # piano-roll shading of black-key rows
NOTE_OUTLINE = {"width": 1, "color": "rgba(255, 255, 255, 0.9)"}  # so touching bars stay apart
REPEAT_GAP_S = 0.02  # seconds cut from a note's bar where the same key is struck again at once
KEYBOARD_WIDTH = 0.045  # of the figure's width: the keyboard left of the roll
BLACK_KEY_LENGTH = 0.62  # of a white key's length
WHITE_KEY, BLACK_KEY = "#fbfbf8", "#222222"  # key colours
# Every key's outline: grey enough that white keys stand apart from each other and from a white page.
KEY_OUTLINE = {"width": 1, "color": "#8a8a8a"}
# Magma, but starting at pure black: plotly.js drew Magma's own first stop (#000004) as pale pink/violet
# in Chromium, which painted every silent region of the spectrogram.
SPECTROGRAM_COLORS = ["#000000", *plotly.colors.sequential.Magma[1:]]


def _layout(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(title=title, height=height, margin={"l": 60, "r": 20, "t": 40, "b": 40})
    return fig


def piano_roll(
    rows: list[NoteRow],
    track_names: list[str] | None = None,
    duration_s: float | None = None,
    name: Callable[[int], str] = pitch_name,
) -> go.Figure:
    """Notes as horizontal bars (time on x, pitch on y) beside a keyboard along the pitch axis; hover shows
    the pitch name (``name``: e.g. spelled in the piece's key), time and velocity.

    One trace per track; a single-track roll is coloured by velocity instead. A note struck again on the
    same key is its own bar, with a gap before it. ``duration_s``: the length of the recording, so the
    time axis spans all of it (default: up to the last note).
    """
    fig = go.Figure()
    tracks = sorted({r.track for r in rows})
    for track in tracks:
        notes = [r for r in rows if r.track == track]
        label = track_names[track] if track_names and track < len(track_names) else f"track {track}"
        by_velocity = len(tracks) == 1
        # Velocity colours are computed here, not left to plotly.js: bars given numbers as colours make it
        # log "Invalid color specifier" twice per note in the browser console (tens of thousands of lines).
        color = (
            velocity_colors([r.velocity for r in notes])
            if by_velocity
            else TRACK_COLORS[track % len(TRACK_COLORS)]
        )
        ends = bar_ends(notes)
        fig.add_trace(
            go.Bar(
                base=[r.start for r in notes],
                x=[end - r.start for r, end in zip(notes, ends, strict=True)],
                y=[r.pitch for r in notes],
                orientation="h",
                width=0.8,
                marker={"color": color, "line": NOTE_OUTLINE},
                name=label,
                customdata=[(name(r.pitch), r.start, r.end, r.velocity) for r in notes],
                hovertemplate=(
                    "<b>%{customdata[0]}</b><br>%{customdata[1]:.3f}–%{customdata[2]:.3f} s"
                    "<br>velocity %{customdata[3]}<extra>" + label + "</extra>"
                ),
            )
        )
    if len(tracks) == 1:
        fig.add_trace(_velocity_colorbar())
    low = min((r.pitch for r in rows), default=LOWEST_KEY) - 2
    high = max((r.pitch for r in rows), default=HIGHEST_KEY) + 2
    for trace in _keyboard(low, high, name):
        fig.add_trace(trace)
    c_keys = [p for p in range(low, high + 1) if p % 12 == 0]
    black_rows = [  # shade the black-key rows, as on a keyboard
        {"type": "rect", "xref": "x domain", "x0": 0, "x1": 1, "y0": p - 0.5, "y1": p + 0.5,
         "fillcolor": BLACK_ROW, "line": {"width": 0}, "layer": "below"}
        for p in range(low, high + 1)
        if p % 12 in BLACK_KEYS
    ]  # fmt: skip
    fig.update_layout(shapes=black_rows)
    fig.update_layout(barmode="overlay", showlegend=len(tracks) > 1, dragmode="zoom")
    last = max((r.end for r in rows), default=0.0)
    fig.update_layout(
        xaxis={"domain": [KEYBOARD_WIDTH + 0.005, 1], "title": "time (s)",
               "range": [0, max(last, duration_s or 0.0)]},
        xaxis2={"domain": [0, KEYBOARD_WIDTH], "range": [0, 1], "visible": False, "fixedrange": True},
        yaxis={"anchor": "x2", "title": "pitch", "range": [low, high], "tickvals": c_keys,
               "ticktext": [pitch_name(p) for p in c_keys]},
    )  # fmt: skip
    return _layout(fig, "Piano roll", ROLL_HEIGHT_PX)


def bar_ends(notes: list[NoteRow]) -> list[float]:
    """Where each note's bar ends (seconds): its end, or REPEAT_GAP_S before the next note on the same key
    when that one starts before this one has ended (or right at its end), so repeated notes stay apart."""
    ends = [r.end for r in notes]
    by_key: dict[int, list[int]] = {}
    for i in sorted(range(len(notes)), key=lambda i: notes[i].start):
        by_key.setdefault(notes[i].pitch, []).append(i)
    for indices in by_key.values():
        for this, following in zip(indices, indices[1:], strict=False):
            start = notes[following].start
            if start - REPEAT_GAP_S < ends[this]:
                shortest = notes[this].start + min(REPEAT_GAP_S, (ends[this] - notes[this].start) / 2)
                ends[this] = max(start - REPEAT_GAP_S, shortest)
    return ends


def _keyboard(low: int, high: int, name: Callable[[int], str]) -> list[go.Bar]:
    """Piano keys for ``low``..``high`` along the pitch axis (on the left x axis): white keys reach under
    their black neighbours, as on a piano; black keys are drawn shorter, on top."""
    whites = [p for p in range(low, high + 1) if p % 12 not in BLACK_KEYS]
    blacks = [p for p in range(low, high + 1) if p % 12 in BLACK_KEYS]
    # A white key's span in pitch: its own row plus half of each black neighbour's.
    spans = [
        (p - 0.5 - 0.5 * ((p - 1) % 12 in BLACK_KEYS), p + 0.5 + 0.5 * ((p + 1) % 12 in BLACK_KEYS))
        for p in whites
    ]
    white = go.Bar(
        x=[1.0] * len(whites),
        y=[(lo + hi) / 2 for lo, hi in spans],
        width=[hi - lo for lo, hi in spans],
        marker={"color": WHITE_KEY, "line": KEY_OUTLINE},
        customdata=[name(p) for p in whites],
    )
    black = go.Bar(
        x=[BLACK_KEY_LENGTH] * len(blacks),
        y=blacks,
        width=0.9,
        marker={"color": BLACK_KEY, "line": KEY_OUTLINE},
        customdata=[name(p) for p in blacks],
    )
    for keys, label in ((white, "white keys"), (black, "black keys")):
        keys.update(orientation="h", xaxis="x2", name=label, showlegend=False)
        keys.update(hovertemplate="%{customdata}<extra></extra>")
    return [white, black]


def velocity_colors(velocities: list[int]) -> list[str]:
    """One VELOCITY_SCALE colour per MIDI velocity (1..127), as 'rgb(r, g, b)' strings."""
    positions = [(min(max(v, 1), 127) - 1) / 126 for v in velocities]
    return list(plotly.colors.sample_colorscale(VELOCITY_SCALE, positions)) if positions else []


def _velocity_colorbar() -> go.Scatter:
    """An invisible trace that draws the velocity colour bar (the bars carry ready-made colours)."""
    return go.Scatter(
        x=[None],
        y=[None],
        mode="markers",
        showlegend=False,
        hoverinfo="skip",
        marker={
            "color": [1],
            "colorscale": VELOCITY_SCALE,
            "cmin": 1,
            "cmax": 127,
            "showscale": True,
            "colorbar": {"title": "velocity", "thickness": 12},
        },
    )


def waveform(samples: FloatArray, sample_rate: int) -> go.Figure:
    """Min/max envelope of mono audio over time (seconds); the amplitude axis spans the recording's peak.

    Scaled to the peak, not to full scale, so a quiet recording is not drawn as a flat line; the title
    says how far below full scale that peak is.
    """
    columns = max(1, min(WAVEFORM_POINTS, samples.size))
    usable = samples[: samples.size - samples.size % columns] if samples.size >= columns else samples
    blocks = usable.reshape(columns, -1)
    times = np.arange(columns) * (blocks.shape[1] / sample_rate)
    fig = go.Figure(
        [
            go.Scatter(x=times, y=blocks.max(axis=1), line={"width": 0.5, "color": "#4C78A8"}, name="max"),
            go.Scatter(
                x=times,
                y=blocks.min(axis=1),
                line={"width": 0.5, "color": "#4C78A8"},
                name="min",
                fill="tonexty",
            ),
        ]
    )
    fig.update_layout(showlegend=False, hovermode="x")
    fig.update_xaxes(title="time (s)")
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak < SILENT_PEAK:
        fig.update_yaxes(title="amplitude", range=[-1, 1])
        return _layout(fig, "Waveform (silent)", 220)
    fig.update_yaxes(title="amplitude", range=[-peak * 1.05, peak * 1.05])
    return _layout(fig, f"Waveform (peak {20 * math.log10(min(peak, 1.0)):.0f} dBFS)", 220)


def spectrogram(mel: FloatArray) -> go.Figure:
    """Heatmap of a (frames, N_MELS) log-mel spectrogram, max-pooled to <= SPECTROGRAM_COLUMNS columns.

    Sent as float32 (plotly ships numpy arrays as typed binary): ~1 MB for a recording of any length.
    """
    frames = mel.shape[0]
    pool = max(1, int(np.ceil(frames / SPECTROGRAM_COLUMNS)))
    padded = np.pad(mel, ((0, (-frames) % pool), (0, 0)), constant_values=float(mel.min()))
    pooled = padded.reshape(-1, pool, mel.shape[1]).max(axis=1).astype(np.float32)
    times = (np.arange(pooled.shape[0]) * pool * SECONDS_PER_FRAME).astype(np.float32)
    # band centres in Hz (the mel scale of features.log_mel) label the y axis
    hz = mel_frequencies(N_MELS, MEL_FMIN, MEL_FMAX)
    fig = go.Figure(
        go.Heatmap(
            z=pooled.T,
            x=times,
            colorscale=SPECTROGRAM_COLORS,
            colorbar={"title": "log power", "thickness": 12},
            hovertemplate="%{x:.2f} s · mel band %{y}<br>log power %{z:.1f}<extra></extra>",
        )
    )
    ticks = list(range(0, N_MELS, 40))
    fig.update_xaxes(title="time (s)")
    fig.update_yaxes(title="frequency (Hz)", tickvals=ticks, ticktext=[f"{hz[i]:.0f}" for i in ticks])
    return _layout(fig, "Log-mel spectrogram (model input)", 300)


def pitch_histogram(rows: list[NoteRow]) -> go.Figure:
    """Notes per pitch from the lowest to the highest one played, pitches without notes included (0)."""
    pitches = np.array([r.pitch for r in rows], dtype=np.int64)
    low = int(pitches.min()) if pitches.size else LOWEST_KEY
    values = np.arange(low, int(pitches.max()) + 1 if pitches.size else low)
    counts = np.bincount(pitches - low, minlength=values.size) if pitches.size else np.array([], np.int64)
    fig = go.Figure(
        go.Bar(
            x=[pitch_name(int(p)) for p in values],
            y=counts,
            marker={"color": "#4C78A8"},
            hovertemplate="%{x}<br>notes: %{y}<extra></extra>",  # "1 notes" otherwise
        )
    )
    fig.update_xaxes(title="pitch", type="category")
    fig.update_yaxes(title="notes")
    return _layout(fig, "Notes per pitch", 260)


def queue_depth(samples: list[dict[str, Any]], title: str = "Queue depth") -> go.Figure:
    """Queued and running jobs over time, from samples {"time": datetime, "queued": n, "running": n}."""
    times = [sample["time"] for sample in samples]
    fig = go.Figure(
        [
            go.Scatter(
                x=times,
                y=[sample[status] for sample in samples],
                name=status,
                mode="lines+markers",
                line={"shape": "hv"},
            )
            for status in ("queued", "running")
        ]
    )
    peak = max((max(sample["queued"], sample["running"]) for sample in samples), default=0)
    fig.update_yaxes(title="jobs", rangemode="tozero", tick0=0, dtick=max(1, math.ceil(peak / 5)))
    fig.update_xaxes(title="time (UTC)", tickformat="%H:%M")
    return _layout(fig, title, 240)
