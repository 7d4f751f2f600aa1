"""The dashboard's plotly figures: what they show for quiet, silent and sparse input."""

import numpy as np
import pytest

from piano_dashboard import figures
from piano_dashboard.midi_tools import NoteRow


def test_a_quiet_recording_is_scaled_to_its_peak():
    t = np.arange(16_000) / 16_000
    quiet = (0.01 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)  # -40 dBFS
    fig = figures.waveform(quiet, 16_000)
    low, high = fig.layout.yaxis.range
    assert high == pytest.approx(-low) and 0.01 <= high < 0.011
    assert "-40 dBFS" in fig.layout.title.text


def test_silence_keeps_the_full_scale_axis():
    fig = figures.waveform(np.zeros(16_000, np.float32), 16_000)
    assert tuple(fig.layout.yaxis.range) == (-1, 1)
    assert "silent" in fig.layout.title.text


def test_notes_per_pitch_keeps_the_pitches_without_notes():
    rows = [NoteRow(0, 60, 0.0, 0.5, 90), NoteRow(0, 60, 1.0, 1.5, 90), NoteRow(0, 64, 0.5, 1.0, 90)]
    bar = figures.pitch_histogram(rows).data[0]
    assert list(bar.x) == ["C4", "C#4", "D4", "D#4", "E4"]
    assert list(bar.y) == [2, 0, 0, 0, 1]


def test_notes_per_pitch_of_no_notes_is_empty():
    bar = figures.pitch_histogram([]).data[0]
    assert list(bar.x) == [] and list(bar.y) == []


def test_piano_roll_bars_carry_colours_not_numbers():
    """plotly.js logs 'Invalid color specifier' for each bar given a number as its colour."""
    rows = [NoteRow(0, 60 + i % 12, i * 0.1, i * 0.1 + 0.3, 1 + i % 127) for i in range(300)]
    fig = figures.piano_roll(rows, ["Piano"])
    (bars,) = [trace for trace in fig.data if trace.type == "bar"]
    assert len(bars.marker.color) == 300
    assert all(isinstance(c, str) and c.startswith("rgb") for c in bars.marker.color)
    assert bars.marker.color[0] != bars.marker.color[100]  # still coloured by velocity
    (scale,) = [trace for trace in fig.data if trace.type == "scatter"]
    assert scale.marker.showscale and scale.marker.colorbar.title.text == "velocity"


def test_velocity_colors_span_the_scale():
    low, high = figures.velocity_colors([1, 127])
    assert (low, high) == ("rgb(68, 1, 84)", "rgb(253, 231, 37)")  # Viridis' ends
    assert figures.velocity_colors([]) == []
