"""Cut a time window out of a MIDI performance into a short, renderable clip MIDI."""

from __future__ import annotations

import pretty_midi

from piano_ai.constants import HIGHEST_KEY, LOWEST_KEY

END_MARKER_CC = 110  # an undefined controller: a harmless event that makes renderers play to the clip end
PEDAL_CCS = (64, 66, 67)  # sustain, sostenuto, soft: carried into excerpts with their state at the cut


def new_piano_midi() -> tuple[pretty_midi.PrettyMIDI, pretty_midi.Instrument]:
    """An empty PrettyMIDI at 120 bpm with one acoustic grand piano track."""
    midi = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    piano = pretty_midi.Instrument(program=0, name="piano")
    midi.instruments.append(piano)
    return midi, piano


def resolve_overlaps(notes: list[pretty_midi.Note], min_gap_s: float = 0.005) -> list[pretty_midi.Note]:
    """One key cannot sound twice: drop a same-key note struck within 30 ms of another (keeping the louder)
    and end each note just before the next strike of its key.

    A renderer releases a key at its first note-off, so overlapping same-key notes would make the audio
    and the targets disagree. Returns the notes sorted by (start, pitch).
    """
    by_pitch: dict[int, list[pretty_midi.Note]] = {}
    for n in sorted(notes, key=lambda n: (n.pitch, n.start, -n.velocity)):
        kept = by_pitch.setdefault(n.pitch, [])
        if kept and n.start - kept[-1].start < 0.03:
            continue
        if kept and kept[-1].end > n.start - min_gap_s:
            kept[-1].end = max(n.start - min_gap_s, kept[-1].start + 0.01)
        kept.append(n)
    return sorted((n for kept in by_pitch.values() for n in kept), key=lambda n: (n.start, n.pitch))


def add_end_marker(midi: pretty_midi.PrettyMIDI, seconds: float) -> None:
    """Add a controller event at ``seconds`` on its own track so rendering lasts at least that long.

    It sits on a note-less track so the targets (pedal_extended_notes) never see it.
    """
    marker = pretty_midi.Instrument(program=0, name="end")
    marker.control_changes.append(pretty_midi.ControlChange(END_MARKER_CC, 0, seconds))
    midi.instruments.append(marker)


def excerpt(
    source: pretty_midi.PrettyMIDI, start: float, onset_window: float, seconds: float, time_scale: float = 1.0
) -> pretty_midi.PrettyMIDI:
    """Notes whose (scaled) onset lies in [start, start + onset_window), shifted to start at 0.

    Times are first multiplied by ``time_scale``. Pedal controllers keep their state at ``start``
    (re-sent at time 0) and their changes inside the clip; a sustain pedal still down at the clip end
    stays down past it, so notes held by it run to the end of the clip without an offset. Every
    non-drum track is merged into one piano track. Notes that started before ``start`` are left out
    of both the audio and the targets. The result ends with an end marker at ``seconds``.
    """
    midi, piano = new_piano_midi()
    stop = start + onset_window
    for track in source.instruments:
        if track.is_drum:
            continue
        for n in track.notes:
            on = n.start * time_scale
            if start <= on < stop:
                piano.notes.append(
                    pretty_midi.Note(
                        n.velocity, n.pitch, on - start, max(n.end * time_scale - start, on - start)
                    )
                )
        state: dict[int, int] = {}
        for cc in sorted(track.control_changes, key=lambda c: c.time):
            t = cc.time * time_scale
            if cc.number not in PEDAL_CCS:
                continue
            if t <= start:
                state[cc.number] = cc.value
            elif t < start + seconds:
                piano.control_changes.append(pretty_midi.ControlChange(cc.number, cc.value, t - start))
        for number, value in state.items():
            piano.control_changes.append(pretty_midi.ControlChange(number, value, 0.0))
    piano.notes = resolve_overlaps([n for n in piano.notes if LOWEST_KEY <= n.pitch <= HIGHEST_KEY])
    piano.control_changes.sort(key=lambda c: c.time)
    sustain = [c for c in piano.control_changes if c.number == PEDAL_CCS[0]]
    if sustain and sustain[-1].value >= 64:  # lift it after the clip so held notes reach the clip end
        piano.control_changes.append(pretty_midi.ControlChange(PEDAL_CCS[0], 0, seconds + 1.0))
    add_end_marker(midi, seconds)
    return midi
