"""Right hand / left hand (treble / bass staff) for quantized notes.

Onset by onset, the notes struck together are cut at one pitch: those below go to the left hand, those above
to the right. The cut chosen is the cheapest under two constraints a pianist's hands obey:
- a hand spans at most HAND_SPAN semitones (a tenth), more than an octave only at a cost, and plays at most
  FINGERS notes at once;
- a hand moves little from one onset to the next: each note costs its distance to where the hand playing it
  has been (its running centre, an exponential average of its recent pitches, starting at C3 and G4).
An empty hand costs nothing, so a melody alone above the bass stays in the right hand even when it dips below
middle C, and a bass line that climbs over middle C stays in the left hand while the right plays above it.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

from piano_ai.score.quantize import QNote

HAND_SPAN = 16  # semitones: a tenth, the widest a hand plays at once
COMFORT_SPAN = 12  # semitones: an octave; each semitone of stretch beyond it costs STRETCH_COST
STRETCH_COST = 3.0
FINGERS = 5  # notes one hand plays at once
START_CENTRE = {"left": 48.0, "right": 67.0}  # MIDI pitch: C3 and G4
FOLLOW = 0.5  # weight of the newest onset in a hand's running centre
OVERREACH_COST = 100.0  # per semitone beyond HAND_SPAN and per note beyond FINGERS
CROSSING_COST = 4.0  # per semitone the left hand's top sits above the right hand's bottom centre


def split_hands(notes: Iterable[QNote]) -> tuple[list[QNote], list[QNote]]:
    """(right hand, left hand), each sorted by (onset, pitch)."""
    by_onset: dict[Fraction, list[QNote]] = {}
    for n in notes:
        by_onset.setdefault(n.onset, []).append(n)
    centre = dict(START_CENTRE)
    right: list[QNote] = []
    left: list[QNote] = []
    for onset in sorted(by_onset):
        group = sorted(by_onset[onset], key=lambda n: n.pitch)
        pitches = [n.pitch for n in group]
        cut = min(range(len(group) + 1), key=lambda k: (_cost(pitches[:k], pitches[k:], centre), -k))
        left += group[:cut]
        right += group[cut:]
        for hand, part in (("left", pitches[:cut]), ("right", pitches[cut:])):
            if part:
                centre[hand] = (1 - FOLLOW) * centre[hand] + FOLLOW * sum(part) / len(part)
    return right, left


def _cost(low: list[int], high: list[int], centre: dict[str, float]) -> float:
    """How unlikely it is that ``low`` is played by the left hand and ``high`` by the right."""
    cost = 0.0
    for hand, part in (("left", low), ("right", high)):
        if not part:
            continue
        span = part[-1] - part[0]
        cost += OVERREACH_COST * (max(0, span - HAND_SPAN) + max(0, len(part) - FINGERS))
        cost += STRETCH_COST * max(0, span - COMFORT_SPAN) + sum(abs(p - centre[hand]) for p in part)
    if low and not high:
        cost += CROSSING_COST * max(0.0, low[-1] - centre["right"])
    if high and not low:
        cost += CROSSING_COST * max(0.0, centre["left"] - high[0])
    return cost
