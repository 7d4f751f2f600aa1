"""Pitch names spelled in a key ("A♭4" in A♭ major, "G♯4" in E major), from the key a job's score found.

The spelling itself is the score's (piano_ai.score.key.spelling), so the piano roll and the sheet music
name every pitch alike.
"""

from collections.abc import Callable
from functools import lru_cache

from piano_dashboard.midi_tools import pitch_name

PitchNamer = Callable[[int], str]


@lru_cache(maxsize=32)
def _names(key: str) -> dict[int, str] | None:
    """Pitch class -> music21 name ("B-", "F#") in ``key`` ("Ab major", "F# minor"); None if unreadable."""
    import music21

    from piano_ai.score.key import spelling

    tonic, _, mode = key.strip().partition(" ")
    if not tonic or mode not in ("major", "minor"):
        return None
    tonic = tonic[0].upper() + tonic[1:].replace("b", "-")  # "Ab" -> music21's "A-"
    try:
        return spelling(music21.key.Key(tonic, mode))
    except (music21.Music21Exception, ValueError):
        return None


def namer(key: str | None) -> PitchNamer:
    """A function naming MIDI pitches in ``key`` (e.g. "Ab major"), or with sharps when the key is unknown."""
    names = _names(key) if key else None
    if names is None:
        return pitch_name

    def spelled(pitch: int) -> str:
        from piano_ai.score.key import spelled as to_pitch

        p = to_pitch(pitch, names)
        return f"{p.step}{_accidental(p.name[1:])}{p.octave}"

    return spelled


def _accidental(marks: str) -> str:
    return marks.replace("#", "♯").replace("-", "♭")
