"""Metric counts on hand-made cases, one table row each."""

import pytest

from piano_ai.evaluation.metrics import Counts, count_matches
from piano_ai.types import Note

N = Note
CASES = [
    # name, reference, estimate, expected matched counts (onset, offset, velocity)
    ("exact", [N(60, 0.0, 1.0, 80)], [N(60, 0.0, 1.0, 80)], (1, 1, 1)),
    ("onset 40 ms late", [N(60, 0.0, 1.0, 80)], [N(60, 0.04, 1.0, 80)], (1, 1, 1)),
    ("onset 60 ms late", [N(60, 0.0, 1.0, 80)], [N(60, 0.06, 1.0, 80)], (0, 0, 0)),
    ("wrong pitch", [N(60, 0.0, 1.0, 80)], [N(61, 0.0, 1.0, 80)], (0, 0, 0)),
    ("offset 30% short", [N(60, 0.0, 1.0, 80)], [N(60, 0.0, 0.7, 80)], (1, 0, 0)),
    # mir_eval rescales estimated velocities by a least-squares line first, so the relation must not be linear
    (
        "velocity shuffled",
        [N(60, 0, 1, 20), N(62, 1, 2, 120), N(64, 2, 3, 20), N(65, 3, 4, 120)],
        [N(60, 0, 1, 20), N(62, 1, 2, 20), N(64, 2, 3, 120), N(65, 3, 4, 120)],
        (4, 4, 0),
    ),
    ("nothing estimated", [N(60, 0.0, 1.0, 80)], [], (0, 0, 0)),
]


@pytest.mark.parametrize(("name", "ref", "est", "expected"), CASES, ids=[c[0] for c in CASES])
def test_note_matches(name: str, ref: list[Note], est: list[Note], expected: tuple[int, int, int]) -> None:
    counts = count_matches(ref, est)
    assert (counts.matched["onset"], counts.matched["offset"], counts.matched["velocity"]) == expected


def test_frame_counts_and_f1() -> None:
    counts = count_matches([N(60, 0.0, 1.0, 80)], [N(60, 0.5, 1.5, 80)])
    scores = counts.scores()["frame"]
    assert scores["precision"] == pytest.approx(0.5) and scores["recall"] == pytest.approx(0.5)


def test_counts_add_up_note_weighted() -> None:
    a = count_matches([N(60, 0, 1, 80)] * 1, [N(60, 0, 1, 80)])
    b = count_matches([N(60, 0, 1, 80), N(64, 0, 1, 80), N(67, 0, 1, 80)], [])
    total: Counts = a + b
    assert total.scores()["onset"]["recall"] == pytest.approx(1 / 4)
    assert total.scores()["onset"]["precision"] == pytest.approx(1.0)
