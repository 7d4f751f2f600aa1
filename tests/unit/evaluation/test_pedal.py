"""Pedal metrics on hand-made cases: sustain-pedal frames and note ends at key release."""

import pretty_midi
import pytest

from piano_ai.constants import FRAMES_PER_SECOND
from piano_ai.evaluation.pedal import pedal_counts, pedal_roll, release_counts, sustain
from piano_ai.types import Note

INF = float("inf")
FRAME = 1 / FRAMES_PER_SECOND  # 32 ms

PEDAL_CASES = [
    # name, reference (down, up) s, estimate (down, up) s, scored length s, (matched, n_ref, n_est) frames
    ("identical", [(0.0, 1.0)], [(0.0, 1.0)], 2.0, (31, 31, 31)),  # round(1.0 * 31.25) = 31 frames
    ("estimate never presses", [(0.0, 1.0)], [], 2.0, (0, 31, 0)),
    ("no pedal in either", [], [], 2.0, (0, 0, 0)),
    ("half overlap", [(0.0, 1.28)], [(0.64, 1.92)], 2.0, (20, 40, 40)),
    ("two presses, one found", [(0.0, 0.64), (1.28, 1.92)], [(1.28, 1.92)], 2.0, (20, 40, 20)),
    # a pedal never lifted is down until the end of what is scored: frames 40..63 (ceil(2.0 * 31.25) + 1 = 64)
    ("reference never lifts", [(1.28, INF)], [(1.28, 1.92)], 2.0, (20, 24, 20)),
    ("estimate lifts after the notes end", [(0.0, 1.0)], [(0.0, 3.2)], 2.0, (31, 31, 100)),
]


@pytest.mark.parametrize(
    ("name", "ref", "est", "end_s", "expected"), PEDAL_CASES, ids=[c[0] for c in PEDAL_CASES]
)
def test_pedal_frame_counts(
    name: str,
    ref: list[tuple[float, float]],
    est: list[tuple[float, float]],
    end_s: float,
    expected: tuple[int, int, int],
) -> None:
    counts = pedal_counts(ref, est, end_s)
    got = (counts.matched["pedal_frame"], counts.n_ref["pedal_frame"], counts.n_est["pedal_frame"])
    assert got == expected


def test_pedal_frames_are_at_the_models_frame_rate() -> None:
    roll = pedal_roll([(1.0, 2.0)], 100)
    assert roll.sum() == round(2.0 * FRAMES_PER_SECOND) - round(1.0 * FRAMES_PER_SECOND)
    assert not roll[round(1.0 * FRAMES_PER_SECOND) - 1] and roll[round(1.0 * FRAMES_PER_SECOND)]


def test_pedal_f1_from_counts() -> None:
    scores = pedal_counts([(0.0, 1.28)], [(0.64, 1.92)], 2.0).scores()["pedal_frame"]
    assert scores["precision"] == pytest.approx(0.5) and scores["f1"] == pytest.approx(0.5)


N = Note
RELEASE_CASES = [
    # name, reference notes (key release), estimate notes, expected matched
    ("same key release", [N(60, 0.0, 0.5, 80)], [N(60, 0.0, 0.5, 80)], 1),
    ("estimate held by the pedal", [N(60, 0.0, 0.5, 80)], [N(60, 0.0, 2.0, 80)], 0),
    ("end within 50 ms", [N(60, 0.0, 0.1, 80)], [N(60, 0.0, 0.14, 80)], 1),
    ("velocity does not matter", [N(60, 0.0, 0.5, 20)], [N(60, 0.0, 0.5, 120)], 1),
    ("nothing estimated", [N(60, 0.0, 0.5, 80)], [], 0),
]


@pytest.mark.parametrize(("name", "ref", "est", "expected"), RELEASE_CASES, ids=[c[0] for c in RELEASE_CASES])
def test_release_offset_counts(name: str, ref: list[Note], est: list[Note], expected: int) -> None:
    counts = release_counts(ref, est)
    assert counts.matched["release_offset"] == expected
    assert (counts.n_ref["release_offset"], counts.n_est["release_offset"]) == (len(ref), len(est))


def midi_with(
    ccs: list[tuple[int, int, float]], drum_ccs: list[tuple[int, int, float]] = ()
) -> pretty_midi.PrettyMIDI:
    midi = pretty_midi.PrettyMIDI()
    piano, drums = pretty_midi.Instrument(0), pretty_midi.Instrument(0, is_drum=True)
    piano.control_changes = [pretty_midi.ControlChange(n, v, t) for n, v, t in ccs]
    drums.control_changes = [pretty_midi.ControlChange(n, v, t) for n, v, t in drum_ccs]
    midi.instruments += [piano, drums]
    return midi


SUSTAIN_CASES = [
    ("no controllers", [], None),
    ("soft pedal only", [(67, 127, 0.0), (67, 0, 1.0)], None),
    ("one press", [(64, 127, 0.5), (64, 0, 1.5)], [(0.5, 1.5)]),
    ("half values: 63 is up", [(64, 63, 0.5), (64, 64, 1.0), (64, 0, 2.0)], [(1.0, 2.0)]),
    ("never lifted", [(64, 100, 0.5)], [(0.5, INF)]),
    ("CC64 written, never down", [(64, 0, 0.5)], []),
]


@pytest.mark.parametrize(("name", "ccs", "expected"), SUSTAIN_CASES, ids=[c[0] for c in SUSTAIN_CASES])
def test_sustain_intervals_of_a_midi(name: str, ccs: list, expected: list | None) -> None:
    assert sustain(midi_with(ccs)) == expected


def test_sustain_ignores_drum_tracks() -> None:
    assert sustain(midi_with([], drum_ccs=[(64, 127, 0.0)])) is None
