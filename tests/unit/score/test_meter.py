"""Compound meter from the notes: tables of synthetic note patterns on steady tracked beats."""

import io

import numpy as np
import pretty_midi
import pytest

from piano_ai.midi_io import midi_bytes
from piano_ai.score.beats import Beats
from piano_ai.score.meter import MIN_SUBDIVIDED, triple_share, with_meter
from piano_ai.score.tempo import tempo_map
from piano_ai.types import Note

PERIOD_S = 0.6  # a tracked beat every 0.6 s
BARS = 8


def tracked(per_bar: int, found: bool = True) -> Beats:
    """BARS bars of ``per_bar`` steady beats from 0 s."""
    count = BARS * per_bar
    return Beats(tuple(PERIOD_S * i for i in range(count)), tuple(i % per_bar + 1 for i in range(count)),
                 per_bar, found)  # fmt: skip


def pattern(offsets: list[float], beats: int) -> list[Note]:
    """One note at each offset (fraction of a beat) in each of ``beats`` beats."""
    return [Note(60 + k % 5, (b + f) * PERIOD_S, (b + f) * PERIOD_S + 0.1, 80)
            for b in range(beats) for k, f in enumerate(offsets)]  # fmt: skip


@pytest.mark.parametrize(
    ("per_bar", "offsets", "compound", "expected_bar", "signature"),
    [
        (4, [0.0, 1 / 3, 2 / 3], True, 2, "6/8"),  # triplet eighths in bars of 4: two bars of 6/8
        (4, [0.0, 0.36, 0.64], True, 2, "6/8"),  # played a little unevenly
        (3, [0.0, 1 / 3, 2 / 3], True, 3, "9/8"),
        (4, [0.0, 0.25, 0.5, 0.75], False, 4, "4/4"),  # sixteenths
        (4, [0.0, 0.5], False, 4, "4/4"),  # eighths: fit both grids, stay duple
        (3, [0.0, 0.5, 0.75], False, 3, "3/4"),
        (4, [0.0], False, 4, "4/4"),  # nothing off the beat: no evidence
        (4, [0.0, 1 / 6, 1 / 3, 2 / 3], True, 2, "6/8"),  # sixteenths inside a compound beat
    ],
)
def test_compound_meter_from_beat_subdivision(
    per_bar: int, offsets: list[float], compound: bool, expected_bar: int, signature: str
) -> None:
    beats = tracked(per_bar)
    out = with_meter(beats, pattern(offsets, len(beats.times)))
    assert (out.compound, out.beats_per_bar, out.time_signature) == (compound, expected_bar, signature)
    assert out.times == beats.times


def test_mixed_beats_need_a_majority_of_triplets() -> None:
    beats = tracked(4)
    half = len(beats.times) // 2
    duple = pattern([0.0, 0.25, 0.5, 0.75], half)
    triple = [Note(n.pitch, n.start + half * PERIOD_S, n.end + half * PERIOD_S, 80)
              for n in pattern([0.0, 1 / 3, 2 / 3], half)]  # fmt: skip
    share, count = triple_share(beats, duple + triple)
    assert count == len(beats.times) and share == pytest.approx(0.5)
    assert with_meter(beats, duple + triple[: -3 * 2]).compound is False  # fewer triplet beats than half


def test_bars_of_four_become_two_bars_of_six_eight() -> None:
    out = with_meter(tracked(4), pattern([0.0, 1 / 3, 2 / 3], 4 * BARS))
    assert out.positions[:6] == (1, 2, 1, 2, 1, 2)
    assert len(out.downbeats) == 2 * BARS


@pytest.mark.parametrize(
    ("beats", "notes"),
    [
        (tracked(4, found=False), pattern([0.0, 1 / 3, 2 / 3], 4 * BARS)),  # the 120 bpm fallback grid
        (tracked(4), pattern([0.0, 1 / 3, 2 / 3], MIN_SUBDIVIDED - 1)),  # too little evidence
        (tracked(4), []),
        (Beats((), (), 4, True), pattern([0.0, 1 / 3], 4)),
    ],
)
def test_no_evidence_keeps_the_simple_meter(beats: Beats, notes: list[Note]) -> None:
    assert with_meter(beats, notes) == beats


def test_six_eight_in_the_midi_file() -> None:
    """pretty_midi counts a 6/8 beat as a dotted quarter: the MIDI's beats are still the tracked ones."""
    notes = pattern([0.0, 1 / 3, 2 / 3], 4 * BARS)
    beats = with_meter(tracked(4), notes)
    tempo = tempo_map(beats, notes[-1].end)
    midi = pretty_midi.PrettyMIDI(io.BytesIO(midi_bytes(notes, tempo)))
    signature = midi.time_signature_changes[0]
    assert (signature.numerator, signature.denominator) == (6, 8)
    np.testing.assert_allclose(midi.get_beats()[: len(beats.times)], beats.times, atol=1e-5)
    np.testing.assert_allclose(midi.get_downbeats()[: 2 * BARS], beats.downbeats, atol=1e-5)
    written = sorted(n.start for n in midi.instruments[0].notes)
    np.testing.assert_allclose(written, sorted(n.start for n in notes), atol=1e-3)  # nothing moved
