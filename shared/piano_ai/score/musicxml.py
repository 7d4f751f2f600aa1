"""The engraved score: two staves (treble for the right hand, bass for the left) written as MusicXML with
music21, bars and time signatures from the tempo map, key signature and spelling from the estimated key.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING

from piano_ai.score.key import spelled, spelling
from piano_ai.score.pedal import Intervals, pedal_groups
from piano_ai.score.quantize import Chord

if TYPE_CHECKING:
    import music21

TITLE = "Transcription"
COMPOSER = "piano-ai"
PART_ID = "P1"  # fixed ids: the same input writes the same MusicXML (but for its encoding date)
STAFF_IDS = ("P1-Staff1", "P1-Staff2")


def build_score(
    right: Iterable[Chord],
    left: Iterable[Chord],
    signatures: Iterable[tuple[Fraction, int, int]],
    key: music21.key.Key,
    bpm: float,
    title: str = TITLE,
    remark: str = "",
    pedals: Sequence[tuple[float, float]] = (),
    beat_quarters: Fraction = Fraction(1),
) -> tuple[music21.stream.Score, int]:
    """A piano score: ``right`` on a treble staff, ``left`` on a bass staff (times in quarter notes), a time
    signature at each (quarter offset, numerator, denominator) of ``signatures`` (TempoMap.time_signatures),
    ``key``'s signature, a metronome mark of ``bpm`` beats of ``beat_quarters`` quarters (1.5: dotted),
    ``remark`` (if any) written above the first bar, and a sustain-pedal mark (Ped. ... *) for each of
    ``pedals`` ((down, up) in quarter notes) that holds a chord. Returns (score, pedal marks written)."""
    import music21

    names = spelling(key)
    score = music21.stream.Score()
    score.metadata = music21.metadata.Metadata(title=title, composer=COMPOSER)
    staves = []
    elements: list[list[tuple[Chord, music21.note.GeneralNote]]] = []
    for staff_id, chords, clef in zip(
        STAFF_IDS, (right, left), (music21.clef.TrebleClef(), music21.clef.BassClef()), strict=True
    ):
        staff = music21.stream.PartStaff(id=staff_id)
        piano = music21.instrument.Piano()
        piano.partId, piano.instrumentId = PART_ID, f"{PART_ID}-I1"
        staff.insert(0, piano)
        staff.insert(0, clef)
        staff.insert(0, music21.key.KeySignature(key.sharps))
        for offset, numerator, denominator in signatures:
            staff.insert(float(offset), music21.meter.TimeSignature(f"{numerator}/{denominator}"))
        elements.append([(chord, _element(chord, names)) for chord in chords])
        for chord, element in elements[-1]:
            staff.insert(float(chord.onset), element)
        staves.append(staff)
    staves[0].insert(
        0, music21.tempo.MetronomeMark(number=round(bpm), referent=music21.duration.Duration(beat_quarters))
    )
    if remark:
        staves[0].insert(0, music21.expressions.TextExpression(remark))
    for staff in staves:
        score.insert(0, staff)
    score.insert(0, music21.layout.StaffGroup(staves, symbol="brace", barTogether=True))
    return score, _pedal_marks(staves, elements, list(pedals))


def _pedal_marks(
    staves: list[music21.stream.PartStaff],
    elements: list[list[tuple[Chord, music21.note.GeneralNote]]],
    pedals: Intervals,
) -> int:
    """Attach a PedalMark to the chords each pedal holds: under the bass staff, or under the treble staff
    when the left hand plays nothing while that pedal is down. Returns how many were attached."""
    import music21

    count = 0
    for down, up in pedals:
        for staff, staff_elements in zip(reversed(staves), reversed(elements), strict=True):
            groups = pedal_groups([chord.onset for chord, _ in staff_elements], [(down, up)])
            if groups:
                mark = music21.expressions.PedalMark([staff_elements[i][1] for i in groups[0]])
                mark.pedalType = music21.expressions.PedalType.Sustain
                mark.pedalForm = music21.expressions.PedalForm.Symbol  # "Ped." ... "*"
                staff.insert(0, mark)
                count += 1
                break
    return count


def musicxml_bytes(score: music21.stream.Score) -> bytes:
    """``score`` as MusicXML (UTF-8), with bars, ties, rests, beams and tuplets made by music21."""
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    return GeneralObjectExporter(score).parse()


def _element(chord: Chord, names: dict[int, str]) -> music21.note.GeneralNote:
    import music21

    length = Fraction(chord.duration)
    pitches = [spelled(p, names) for p in chord.pitches]
    element = music21.note.Note(pitches[0]) if len(pitches) == 1 else music21.chord.Chord(pitches)
    element.duration = music21.duration.Duration(length)
    element.volume.velocity = chord.velocity
    return element
