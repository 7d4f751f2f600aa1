"""Key estimation and pitch spelling."""

from fractions import Fraction

import music21
import pytest

from piano_ai.score.key import estimate_key, spelled, spelling
from piano_ai.score.quantize import QNote


@pytest.mark.parametrize(
    ("key", "names"),
    [
        ("C", "C C# D E- E F F# G G# A B- B"),
        ("F", "C C# D E- E F F# G A- A B- B"),
        ("c", "C D- D E- E F F# G A- A B- B"),  # the leading tone B is natural
        ("a", "C C# D D# E F F# G G# A B- B"),
        ("E-", "C D- D E- E F G- G A- A B- B"),
        ("B", "B# C# D D# E E# F# G G# A A# B"),
        ("D-", "C D- D E- F- F G- G A- A B- C-"),  # F- and C- (Neapolitan-side) rather than double flats
    ],
)
def test_spelling(key: str, names: str) -> None:
    table = spelling(music21.key.Key(key))
    assert " ".join(table[pc] for pc in range(12)) == names


@pytest.mark.parametrize(
    ("pitch", "key", "name"), [(60, "C#", "B#3"), (61, "C#", "C#4"), (71, "C-", "C-5"), (70, "F", "B-4")]
)
def test_spelled_keeps_the_octave_with_the_letter(pitch: int, key: str, name: str) -> None:
    spelled_pitch = spelled(pitch, spelling(music21.key.Key(key)))
    assert spelled_pitch.nameWithOctave == name and spelled_pitch.midi == pitch


def scale_notes(pitches: list[int]) -> list[QNote]:
    return [QNote(p, Fraction(i), Fraction(1), 64) for i, p in enumerate(pitches)]


@pytest.mark.parametrize(
    ("pitches", "key"),
    [
        ([60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 60], "C major"),
        ([57, 59, 60, 62, 64, 65, 68, 69, 64, 60, 57], "A minor"),
        ([63, 65, 67, 68, 70, 72, 74, 75, 70, 67, 63], "E- major"),
        ([], "C major"),
    ],
)
def test_estimate_key(pitches: list[int], key: str) -> None:
    found = estimate_key(scale_notes(pitches))
    assert f"{found.tonic.name} {found.mode}" == key
