"""The dashboard's plotly figures: what they show for quiet, silent and sparse input."""

import numpy as np
import pytest

from piano_dashboard import figures, spelling
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
    (bars,) = [trace for trace in fig.data if trace.type == "bar" and trace.name == "Piano"]
    assert len(bars.marker.color) == 300
    assert all(isinstance(c, str) and c.startswith("rgb") for c in bars.marker.color)
    assert bars.marker.color[0] != bars.marker.color[100]  # still coloured by velocity
    (scale,) = [trace for trace in fig.data if trace.type == "scatter"]
    assert scale.marker.showscale and scale.marker.colorbar.title.text == "velocity"


def test_velocity_colors_span_the_scale():
    low, high = figures.velocity_colors([1, 127])
    assert (low, high) == ("rgb(68, 1, 84)", "rgb(253, 231, 37)")  # Viridis' ends
    assert figures.velocity_colors([]) == []


def test_repeated_notes_on_one_key_are_separate_bars_with_a_gap():
    # 60 struck three times back to back, 64 held across them, a re-strike of 67 before it was released
    cases = [(60, 0.0, 0.5), (60, 0.5, 1.0), (60, 1.0, 1.5), (64, 0.0, 1.5), (67, 0.0, 1.0), (67, 0.8, 1.2)]
    rows = [NoteRow(0, pitch, start, end, 80) for pitch, start, end in cases]
    assert figures.bar_ends(rows) == pytest.approx([0.48, 0.98, 1.5, 1.5, 0.78, 1.2])
    (bars,) = [trace for trace in figures.piano_roll(rows).data if trace.name == "track 0"]
    assert len(bars.x) == 6 and bars.marker.line.width >= 1  # one outlined bar per note
    assert [base + length for base, length in zip(bars.base, bars.x, strict=True)][:3] == pytest.approx(
        [0.48, 0.98, 1.5]
    )
    assert [c[2] for c in bars.customdata[:3]] == [0.5, 1.0, 1.5]  # hover keeps the real ends


def test_piano_roll_has_a_keyboard_along_its_pitch_axis():
    rows = [NoteRow(0, 60, 0.0, 0.5, 80), NoteRow(0, 72, 0.5, 1.0, 80)]
    fig = figures.piano_roll(rows)
    white, black = [trace for trace in fig.data if trace.name in ("white keys", "black keys")]
    assert white.xaxis == black.xaxis == "x2" and fig.layout.yaxis.anchor == "x2"  # shares the pitch axis
    assert len(white.y) + len(black.y) == 74 - 58 + 1  # every key from 58 to 74 (notes ±2)
    assert list(black.y) == [58, 61, 63, 66, 68, 70, 73]
    spans = sorted((y - w / 2, y + w / 2) for y, w in zip(white.y, white.width, strict=True))
    assert all(a[1] == pytest.approx(b[0]) for a, b in zip(spans, spans[1:], strict=False))  # no gaps
    assert fig.layout.xaxis2.domain[1] < fig.layout.xaxis.domain[0]  # left of the roll


def test_pitch_names_are_spelled_in_the_key():
    rows = [NoteRow(0, 68, 0.0, 0.5, 80)]
    in_a_flat = figures.piano_roll(rows, name=spelling.namer("Ab major"))
    in_e = figures.piano_roll(rows, name=spelling.namer("E major"))
    unknown = figures.piano_roll(rows, name=spelling.namer(None))
    assert [t for t in in_a_flat.data if t.type == "bar"][0].customdata[0][0] == "A♭4"
    assert [t for t in in_e.data if t.type == "bar"][0].customdata[0][0] == "G♯4"
    assert [t for t in unknown.data if t.type == "bar"][0].customdata[0][0] == "G#4"
    black = next(t for t in in_a_flat.data if t.name == "black keys")
    assert "A♭4" in list(black.customdata) and "G♯4" not in list(black.customdata)


@pytest.mark.parametrize(
    ("key", "pitches", "names"),
    [
        ("Ab major", (56, 61, 63, 70), ["A♭3", "D♭4", "E♭4", "B♭4"]),
        ("F# minor", (66, 68, 73, 77), ["F♯4", "G♯4", "C♯5", "E♯5"]),  # E# is the leading tone
        ("Bb minor", (70, 73, 78), ["B♭4", "D♭5", "G♭5"]),
        ("C major", (60, 62, 64), ["C4", "D4", "E4"]),
        ("nonsense", (61,), ["C#4"]),  # an unreadable key: sharps, as without one
    ],
)
def test_spelling_follows_the_scores_key(key, pitches, names):
    name = spelling.namer(key)
    assert [name(p) for p in pitches] == names
