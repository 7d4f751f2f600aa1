"""Hand split: a table of textures and which notes each hand gets."""

from fractions import Fraction

import pytest

from piano_ai.score.hands import split_hands
from piano_ai.score.quantize import QNote


def onsets(*groups: tuple[int, ...]) -> list[QNote]:
    """One QNote per pitch, group i struck at beat i."""
    return [QNote(p, Fraction(i), Fraction(1), 64) for i, group in enumerate(groups) for p in group]


@pytest.mark.parametrize(
    ("notes", "right", "left"),
    [
        (onsets((72, 48), (67, 50), (62, 43)), [72, 67, 62], [48, 50, 43]),  # melody over a bass line
        (onsets((36, 43, 48, 64, 67, 72)), [64, 67, 72], [36, 43, 48]),  # a wide chord cut in its gap
        (onsets((72,), (74,), (76,)), [72, 74, 76], []),  # a high line alone
        (onsets((40,), (43,), (45,)), [], [40, 43, 45]),  # a low line alone
        (onsets((67,), (64,), (60,), (57,), (59,)), [67, 64, 60, 57, 59], []),  # a melody dipping below C4
        (onsets((76, 55), (77, 60), (79, 64)), [76, 77, 79], [55, 60, 64]),  # the bass climbs over C4
        (onsets((36, 40, 43, 48, 52, 60, 64, 67, 72, 76)), [60, 64, 67, 72, 76], [36, 40, 43, 48, 52]),  # 10
        (onsets((36, 48, 72, 84)), [72, 84], [36, 48]),  # octaves in both hands
        (onsets((60, 64, 67)), [60, 64, 67], []),  # a close chord around middle C: one hand
        (onsets((43, 47, 50, 55)), [], [43, 47, 50, 55]),  # a close chord low down: the other
        (onsets((48, 52, 55, 60)), [60], [48, 52, 55]),  # C3-E3-G3-C4 alone: the top note is nearer the right
    ],
)
def test_split_hands(notes: list[QNote], right: list[int], left: list[int]) -> None:
    got_right, got_left = split_hands(notes)
    assert [n.pitch for n in got_right] == right
    assert [n.pitch for n in got_left] == left


def test_no_notes() -> None:
    assert split_hands([]) == ([], [])
