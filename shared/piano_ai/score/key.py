"""Key estimation and pitch spelling: a key signature for the score and a name for every MIDI pitch.

The key is music21's Krumhansl-Schmuckler estimate over the notes weighted by their quantized durations;
pitches are named by their interval above its tonic (``spelling``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from piano_ai.score.quantize import QNote

if TYPE_CHECKING:
    import music21

DEFAULT_KEY = "C"  # when there is nothing to analyse
# Semitones above the tonic -> the interval naming that pitch (music21 interval names).
SCALE = {
    "major": {0: "P1", 2: "M2", 4: "M3", 5: "P4", 7: "P5", 9: "M6", 11: "M7"},
    "minor": {0: "P1", 2: "M2", 3: "m3", 5: "P4", 7: "P5", 8: "m6", 9: "M6", 10: "m7", 11: "M7"},
}
CHROMATIC = {  # secondary leading tones (#1, #4, #5), borrowed b3 and b7; in minor the Neapolitan b2
    "major": {1: "A1", 3: "m3", 6: "A4", 8: "A5", 10: "m7"},
    "minor": {1: "m2", 4: "M3", 6: "A4"},
}
ALTERNATIVE = {  # the enharmonic spelling of each when the first needs a double accidental
    "major": {
        0: "d2",
        2: "d3",
        4: "d4",
        5: "A3",
        7: "d6",
        9: "d7",
        11: "d8",
        1: "m2",
        3: "A2",
        6: "d5",
        8: "m6",
        10: "A6",
    },
    "minor": {
        0: "d2",
        2: "d3",
        3: "A2",
        5: "A3",
        7: "d6",
        8: "A5",
        9: "d7",
        10: "A6",
        11: "d8",
        1: "A1",
        4: "d4",
        6: "d5",
    },
}


def estimate_key(notes: Iterable[QNote]) -> music21.key.Key:
    """The most likely key of ``notes`` (music21's Krumhansl-Schmuckler analysis, durations as weights)."""
    import music21

    stream: music21.stream.Stream = music21.stream.Stream()
    for n in notes:
        stream.append(music21.note.Note(n.pitch, quarterLength=float(n.duration)))
    if not stream.notes:
        return music21.key.Key(DEFAULT_KEY)
    return stream.analyze("key")


def spelling(key: music21.key.Key) -> dict[int, str]:
    """Pitch class (0 = C) -> note name without octave ("F#", "B-", "E#"...) in ``key`` (music21 names).

    Each pitch is named by its interval above the tonic: the scale's degrees (a minor key's raised sixth and
    seventh too), and for the others the chromatic notes classical harmony uses most (CHROMATIC), unless that
    needs a double sharp or flat (then ALTERNATIVE).
    """
    intervals = SCALE[key.mode] | CHROMATIC[key.mode]
    names = {}
    for semitones, interval in intervals.items():
        name = key.tonic.transpose(interval).name
        if abs(_alter(name)) > 1:
            name = key.tonic.transpose(ALTERNATIVE[key.mode][semitones]).name
        names[(key.tonic.pitchClass + semitones) % 12] = name
    return names


def _alter(name: str) -> int:
    return name.count("#") - name.count("-")


def spelled(pitch: int, names: dict[int, str]) -> music21.pitch.Pitch:
    """MIDI ``pitch`` as a music21 Pitch named by ``names`` (from ``spelling``); B#3 sounds as C4."""
    import music21

    out = music21.pitch.Pitch(names[pitch % 12])
    out.octave = 4
    out.octave += (pitch - round(out.ps)) // 12  # the octave follows the letter
    return out
