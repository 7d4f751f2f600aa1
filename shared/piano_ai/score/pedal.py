"""Sustain-pedal marks (Ped. ... *) from the transcription's CC64.

The pedal is read from the transcription's MIDI file (CC64 on any non-drum track), turned into beats on the
tempo map, and each pedal interval is attached to the chords it holds: a chord belongs to the pedal that is
down half a beat after it is struck (``PEDAL_LAG_BEATS``), because a pianist presses the pedal just after
the chord it should sustain ("legato pedalling") and lifts it as, or just after, the next chord sounds.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from fractions import Fraction

from piano_ai.score.tempo import TempoMap

Intervals = list[tuple[float, float]]  # (down, up); up may be inf (never lifted)
PEDAL_LAG_BEATS = Fraction(1, 2)  # a pedal pressed up to this long after a chord (beats) sustains that chord


def sustain_of_midi(midi: bytes) -> Intervals:
    """(down, up) seconds of the sustain pedal in a standard MIDI file; [] when it has no CC64."""
    import pretty_midi

    from piano_ai.data.targets import SUSTAIN_CC, sustain_intervals

    parsed = pretty_midi.PrettyMIDI(io.BytesIO(midi))
    ccs = [
        c for i in parsed.instruments if not i.is_drum for c in i.control_changes if c.number == SUSTAIN_CC
    ]
    return [(float(down), float(up)) for down, up in sustain_intervals(ccs)]


def sustain_beats(intervals: Intervals, tempo: TempoMap) -> Intervals:
    """``intervals`` (seconds) in quarter notes on ``tempo``'s grid; an unlifted pedal stays inf."""
    out = []
    for down, up in intervals:
        start = float(tempo.quarter_positions([down])[0])
        end = math.inf if math.isinf(up) else float(tempo.quarter_positions([up])[0])
        out.append((start, end))
    return out


def pedal_groups(onsets: Sequence[Fraction], pedals: Intervals) -> list[list[int]]:
    """For each pedal interval (beats) holding at least one chord, the indices of the chords it holds.

    ``onsets``: chord onsets in beats, ascending. Chord i is held by the pedal that is down at
    ``onsets[i] + PEDAL_LAG_BEATS`` (down <= that < up); each chord is held by one pedal at most.
    """
    groups, taken = [], set()
    for down, up in sorted(pedals):
        held = [
            i for i, onset in enumerate(onsets) if down <= onset + PEDAL_LAG_BEATS < up and i not in taken
        ]
        if held:
            groups.append(held)
            taken.update(held)
    return groups
