"""The tempo map: tracked beats turned into MIDI tempo and time-signature events.

Every MIDI beat is one tracked beat: a quarter note (MIDI_RESOLUTION ticks), or in a compound meter (6/8) a
dotted quarter (1.5 x MIDI_RESOLUTION ticks, which pretty_midi also counts as one beat). Each beat interval
gets its own set-tempo event, so a reader's beats (``pretty_midi.PrettyMIDI.get_beats()``) fall on the
performed beats and every note, written at the tick of its time in seconds, sounds when it was played. Time
signatures make bars start on the tracked downbeats; beats before the first tracked one become a pickup bar
starting at 0 s.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from piano_ai.score.beats import Beats

MIDI_RESOLUTION = 960  # ticks per beat (a quarter note), as piano_ai.midi_io writes
MAX_TEMPO_US = 2**24 - 1  # the largest set-tempo value (microseconds per quarter) MIDI can hold
MIN_BEAT_S = 0.05  # no beat interval is written shorter than this (1200 bpm)
PICKUP_EPS_S = 0.01  # a first beat this close to 0 s is taken to start at 0 (no pickup)
COMPOUND_BEAT = Fraction(3, 2)  # quarter notes in a compound meter's beat (a dotted quarter: 6/8, 9/8)
MIDI_CLOCKS_PER_QUARTER = 24  # MIDI clocks per quarter note (the time-signature event's metronome unit)


@dataclass(frozen=True)
class TempoMap:
    """Beat k of the MIDI file is at ``grid[k]`` seconds (tick k * MIDI_RESOLUTION); grid[0] == 0.

    ``signatures``: (beat index, beats per bar) where a bar of a new length starts, the first at beat 0.
    ``compound``: a beat is a dotted quarter (COMPOUND_BEAT) and bars are written n/8 (2 beats: 6/8).
    """

    grid: tuple[float, ...]  # seconds, increasing, integer microseconds apart (3 us apart when compound)
    signatures: tuple[tuple[int, int], ...]
    compound: bool = False

    @property
    def beat_quarters(self) -> Fraction:
        """Quarter notes in one beat: 1, or 3/2 in a compound meter."""
        return COMPOUND_BEAT if self.compound else Fraction(1)

    @property
    def tempos_us(self) -> list[int]:
        """Microseconds per quarter for each beat interval, then the last one again for what follows."""
        steps = [round((b - a) * 1e6 / self.beat_quarters)
                 for a, b in zip(self.grid[:-1], self.grid[1:], strict=True)]  # fmt: skip
        return steps + steps[-1:] if steps else [500_000]

    def time_signatures(self) -> list[tuple[Fraction, int, int]]:
        """(offset in quarter notes, numerator, denominator) of each time signature: n/4, or 3n/8 when
        compound."""
        return [
            (index * self.beat_quarters, 3 * length if self.compound else length, 8 if self.compound else 4)
            for index, length in self.signatures
        ]

    @property
    def bar_starts(self) -> list[float]:
        """Seconds where the MIDI file's bars start (get_downbeats()), within the grid."""
        starts, limits = [], [index for index, _ in self.signatures[1:]] + [len(self.grid)]
        for (index, length), limit in zip(self.signatures, limits, strict=True):
            starts += [self.grid[i] for i in range(index, limit, length)]
        return starts

    def beat_positions(self, seconds: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Each time (s) in beats from 0 s: linear within a beat, the last tempo past the grid's end."""
        t = np.asarray(seconds, dtype=np.float64)
        grid = np.asarray(self.grid)
        last = grid[-1] - grid[-2] if len(grid) > 1 else 0.5
        beats = np.interp(t, grid, np.arange(len(grid), dtype=np.float64))
        return np.where(t > grid[-1], len(grid) - 1 + (t - grid[-1]) / last, beats)

    def quarter_positions(self, seconds: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Each time (s) in quarter notes from 0 s (beat_positions x beat_quarters)."""
        return self.beat_positions(seconds) * float(self.beat_quarters)

    def ticks(self, seconds: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """The MIDI tick of each time (s)."""
        return np.round(self.quarter_positions(seconds) * MIDI_RESOLUTION).astype(np.int64)

    def meta_events(self) -> list[tuple[int, int, bytes]]:
        """(tick, meta type, data) for every set-tempo (0x51) and time-signature (0x58) event, by tick."""
        beat_ticks = int(MIDI_RESOLUTION * self.beat_quarters)
        events = [(k * beat_ticks, 0x51, min(us, MAX_TEMPO_US).to_bytes(3, "big"))
                  for k, us in enumerate(self.tempos_us)]  # fmt: skip
        events += [
            (int(at * MIDI_RESOLUTION), 0x58, signature_data(numerator, denominator))
            for at, numerator, denominator in self.time_signatures()
        ]
        return sorted(events, key=lambda e: (e[0], e[1]))


def signature_data(numerator: int, denominator: int) -> bytes:
    """A time-signature meta event's data; its metronome click is the beat (a dotted quarter in n/8)."""
    click = int(MIDI_CLOCKS_PER_QUARTER * (COMPOUND_BEAT if denominator == 8 else 1))  # 24, or 36 in n/8
    return bytes([numerator, int(np.log2(denominator)), click, 8])


def tempo_map(beats: Beats, end_s: float) -> TempoMap:
    """The TempoMap whose beats are ``beats.times``, preceded by pickup beats from 0 s and followed by beats
    at the last tempo until past ``end_s`` (the end of the last note)."""
    times, positions = _with_pickup(list(beats.times), list(beats.positions), beats.beats_per_bar)
    period = times[-1] - times[-2] if len(times) > 1 else 60.0 / 120.0
    while times[-1] < end_s:
        times.append(times[-1] + period)
        positions.append(positions[-1] % beats.beats_per_bar + 1)
    # Whole microseconds per quarter: a compound beat (1.5 quarters) is a multiple of 3 us.
    step = 3 if beats.compound else 1
    micros = np.cumsum([0] + [step * max(round((b - a) * 1e6 / step), round(MIN_BEAT_S * 1e6 / step))
                              for a, b in zip(times[:-1], times[1:], strict=True)])  # fmt: skip
    grid = tuple(float(us) / 1e6 for us in micros)
    return TempoMap(grid, _signatures(positions, beats.beats_per_bar), beats.compound)


def _with_pickup(times: list[float], positions: list[int], per_bar: int) -> tuple[list[float], list[int]]:
    """Beats from 0 s to the first tracked one, spaced about like the first tracked interval."""
    if not times:
        return [0.0], [1]
    if times[0] <= PICKUP_EPS_S:
        return [0.0] + times[1:], positions
    period = times[1] - times[0] if len(times) > 1 else times[0]
    count = max(1, round(times[0] / period))
    pickup = [times[0] * i / count for i in range(count)]
    before = [(positions[0] - 1 - (count - i)) % per_bar + 1 for i in range(count)]
    return pickup + times, before + positions


def _signatures(positions: list[int], per_bar: int) -> tuple[tuple[int, int], ...]:
    """(beat index, bar length) wherever a bar's length differs from the one before; a partial first bar
    (the beats before the first downbeat) is a bar of its own."""
    downs = [i for i, p in enumerate(positions) if p == 1]
    if not downs:
        return ((0, per_bar),)
    starts = ([0] if downs[0] > 0 else []) + downs
    lengths = [b - a for a, b in zip(starts[:-1], starts[1:], strict=True)] + [per_bar]
    out: list[tuple[int, int]] = []
    for start, length in zip(starts, lengths, strict=True):
        if not out or out[-1][1] != length:
            out.append((start, length))
    return tuple(out)


def retime_midi(midi: bytes, tempo: TempoMap) -> bytes:
    """A standard MIDI file put on ``tempo``'s grid: every event of every track (notes, CC64 and the rest)
    keeps its time in seconds, and the file's own set-tempo and time-signature events are replaced by the
    tempo map's (written into its first track)."""
    import mido

    source = mido.MidiFile(file=io.BytesIO(midi))
    seconds = _event_seconds(source)
    out = mido.MidiFile(type=1, ticks_per_beat=MIDI_RESOLUTION)
    for index, (track, times) in enumerate(zip(source.tracks, seconds, strict=True)):
        kept = [(m, t) for m, t in zip(track, times, strict=True) if m.type not in _REPLACED]
        ticks = tempo.ticks([t for _, t in kept]).tolist() if kept else []
        events = [(tick, 1, m) for (m, _), tick in zip(kept, ticks, strict=True)]
        if index == 0:
            events += [(tick, 0, _meta_message(kind, data)) for tick, kind, data in tempo.meta_events()]
        events.sort(key=lambda e: (e[0], e[1]))  # stable: a track's own order is kept at equal ticks
        new_track, now = mido.MidiTrack(), 0
        for tick, _, message in events:
            new_track.append(message.copy(time=tick - now))
            now = tick
        new_track.append(mido.MetaMessage("end_of_track", time=0))
        out.tracks.append(new_track)
    buffer = io.BytesIO()
    out.save(file=buffer)
    return buffer.getvalue()


_REPLACED = ("set_tempo", "time_signature", "end_of_track")  # events retime_midi writes anew


def _event_seconds(midi: Any) -> list[npt.NDArray[np.float64]]:
    """Per track, the time in seconds of each event, under the file's set-tempo events (any track)."""
    ticks = [np.cumsum([m.time for m in track], dtype=np.int64) for track in midi.tracks]
    changes = sorted(
        (int(tick), message.tempo)
        for track, track_ticks in zip(midi.tracks, ticks, strict=True)
        for tick, message in zip(track_ticks, track, strict=True)
        if message.type == "set_tempo"
    )
    change_ticks = np.array([0] + [t for t, _ in changes], dtype=np.int64)  # 120 bpm until the first
    tempos_us = np.array([500_000] + [us for _, us in changes], dtype=np.float64)
    per_tick = tempos_us / midi.ticks_per_beat / 1e6  # seconds per tick from each change on
    at_change = np.concatenate([[0.0], np.cumsum(np.diff(change_ticks) * per_tick[:-1])])
    out = []
    for track_ticks in ticks:
        i = np.searchsorted(change_ticks, track_ticks, side="right") - 1
        out.append(at_change[i] + (track_ticks - change_ticks[i]) * per_tick[i])
    return out


def _meta_message(kind: int, data: bytes) -> Any:
    import mido

    if kind == 0x51:
        return mido.MetaMessage("set_tempo", tempo=int.from_bytes(data, "big"))
    return mido.MetaMessage(
        "time_signature", numerator=data[0], denominator=2 ** data[1], clocks_per_click=data[2],
        notated_32nd_notes_per_beat=data[3],
    )  # fmt: skip
