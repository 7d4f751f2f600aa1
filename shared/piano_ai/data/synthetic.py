"""Generated piano textures that cover the whole keyboard and every velocity.

Each texture fills ``seconds`` with notes drawn from a seeded Generator; pitches span A0..C8 and
velocities 1..127, so the model sees registers and dynamics that real repertoire rarely visits.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pretty_midi

from piano_ai.constants import HIGHEST_KEY, LOWEST_KEY
from piano_ai.data.excerpt import add_end_marker, new_piano_midi, resolve_overlaps

NoteTuple = tuple[int, float, float, int]  # (pitch, start s, end s, velocity)
SCALES = {"major": [0, 2, 4, 5, 7, 9, 11], "minor": [0, 2, 3, 5, 7, 8, 10], "chromatic": list(range(12))}
CHORDS = [[0, 4, 7], [0, 3, 7], [0, 4, 7, 11], [0, 3, 7, 10], [0, 4, 7, 10], [0, 3, 6], [0, 5, 7], [0, 4, 8]]


def _velocity(rng: np.random.Generator) -> int:
    return int(rng.integers(1, 128))


def _clip(pitch: int) -> int | None:
    return pitch if LOWEST_KEY <= pitch <= HIGHEST_KEY else None


def chords(rng: np.random.Generator, seconds: float) -> list[NoteTuple]:
    """Block chords (3-8 notes, one or both hands) anywhere on the keyboard."""
    notes: list[NoteTuple] = []
    t = float(rng.uniform(0.0, 0.3))
    while t < seconds - 0.2:
        dur = float(rng.uniform(0.1, 2.0))
        root = int(rng.integers(LOWEST_KEY, HIGHEST_KEY - 12))
        shape = CHORDS[int(rng.integers(len(CHORDS)))]
        pitches = {root + i for i in shape} | ({root + 12} if rng.random() < 0.5 else set())
        if rng.random() < 0.4:
            bass = root - 12 * int(rng.integers(1, 3))
            pitches |= {bass, bass + 7}
        base_vel = _velocity(rng)
        for p in pitches:
            if _clip(p) is not None:
                vel = int(np.clip(base_vel + rng.integers(-8, 9), 1, 127))
                notes.append((p, t, t + dur * float(rng.uniform(0.6, 1.0)), vel))
        t += dur + float(rng.uniform(0.0, 0.4))
    return notes


def scales(rng: np.random.Generator, seconds: float) -> list[NoteTuple]:
    """Runs up and down major, minor or chromatic scales at varied speeds, legato or staccato."""
    notes: list[NoteTuple] = []
    t = 0.1
    while t < seconds - 0.2:
        steps = SCALES[str(rng.choice(list(SCALES)))]
        step_s = float(rng.uniform(0.05, 0.4))
        gate = float(rng.uniform(0.3, 1.1))
        pitch = int(rng.integers(LOWEST_KEY, HIGHEST_KEY))
        direction = 1 if rng.random() < 0.5 else -1
        degree = 0
        vel = _velocity(rng)
        for _ in range(int(rng.integers(8, 30))):
            if _clip(pitch) is None or t >= seconds - 0.1:
                break
            notes.append((pitch, t, t + step_s * gate, vel))
            vel = int(np.clip(vel + rng.integers(-6, 7), 1, 127))
            interval = (steps[(degree + 1) % len(steps)] - steps[degree % len(steps)]) % 12 or 12
            degree += 1
            pitch += direction * (interval if len(steps) < 12 else 1)
            t += step_s
        t += float(rng.uniform(0.1, 0.6))
    return notes


def arpeggios(rng: np.random.Generator, seconds: float) -> list[NoteTuple]:
    """Broken chords over one to four octaves, often ringing under the pedal."""
    notes: list[NoteTuple] = []
    t = 0.1
    while t < seconds - 0.2:
        shape = CHORDS[int(rng.integers(len(CHORDS)))]
        root = int(rng.integers(LOWEST_KEY, HIGHEST_KEY - 24))
        span = [root + 12 * o + i for o in range(int(rng.integers(1, 5))) for i in shape]
        if rng.random() < 0.5:
            span = span + span[-2::-1]
        step_s = float(rng.uniform(0.06, 0.3))
        hold = float(rng.uniform(0.1, 1.5))
        vel = _velocity(rng)
        for p in span:
            if t >= seconds - 0.1:
                break
            if _clip(p) is not None:
                notes.append((p, t, t + hold, int(np.clip(vel + rng.integers(-10, 11), 1, 127))))
            t += step_s
        t += float(rng.uniform(0.1, 0.5))
    return notes


def repeated_notes(rng: np.random.Generator, seconds: float) -> list[NoteTuple]:
    """The same key (or a dyad) struck again and again, fast and slow: tests re-onsets."""
    notes: list[NoteTuple] = []
    t = 0.1
    while t < seconds - 0.2:
        pitches = [int(rng.integers(LOWEST_KEY, HIGHEST_KEY + 1))]
        if rng.random() < 0.3 and pitches[0] + 4 <= HIGHEST_KEY:
            pitches.append(pitches[0] + int(rng.integers(3, 13)))
        step_s = float(rng.uniform(0.07, 0.5))
        gate = float(rng.uniform(0.4, 0.95))
        for _ in range(int(rng.integers(3, 16))):
            if t >= seconds - 0.1:
                break
            vel = _velocity(rng)
            for p in pitches:
                if _clip(p) is not None:
                    notes.append((p, t, t + step_s * gate, vel))
            t += step_s
        t += float(rng.uniform(0.1, 0.5))
    return notes


def dense_polyphony(rng: np.random.Generator, seconds: float) -> list[NoteTuple]:
    """Random notes at 4-20 onsets per second with random lengths: many voices at once."""
    notes: list[NoteTuple] = []
    rate = float(rng.uniform(4.0, 20.0))
    centre, spread = float(rng.uniform(36, 96)), float(rng.uniform(6, 30))
    t = float(rng.exponential(1 / rate))
    while t < seconds - 0.1:
        p = int(np.clip(round(rng.normal(centre, spread)), LOWEST_KEY, HIGHEST_KEY))
        notes.append((p, t, t + float(rng.exponential(0.5)) + 0.04, _velocity(rng)))
        t += float(rng.exponential(1 / rate))
    return notes


def velocity_sweep(rng: np.random.Generator, seconds: float) -> list[NoteTuple]:
    """Every velocity 1..127 in a shuffled order, on random keys, one or two at a time."""
    notes: list[NoteTuple] = []
    velocities = rng.permutation(np.arange(1, 128))
    step_s = max(seconds / len(velocities), 0.1)
    for i, vel in enumerate(velocities):
        t = 0.1 + i * step_s
        if t >= seconds - 0.1:
            break
        p = int(rng.integers(LOWEST_KEY, HIGHEST_KEY + 1))
        notes.append((p, t, t + step_s * float(rng.uniform(0.5, 3.0)), int(vel)))
    return notes


TEXTURES: dict[str, Callable[[np.random.Generator, float], list[NoteTuple]]] = {
    "chords": chords,
    "scales": scales,
    "arpeggios": arpeggios,
    "repeated": repeated_notes,
    "dense": dense_polyphony,
    "velocity_sweep": velocity_sweep,
}


def _pedal_events(rng: np.random.Generator, seconds: float) -> list[pretty_midi.ControlChange]:
    """Sustain pedal pressed and lifted every 0.5-4 s, as a player changes it with the harmony."""
    events: list[pretty_midi.ControlChange] = []
    t = float(rng.uniform(0.0, 1.0))
    while t < seconds:
        down = float(rng.uniform(0.5, 4.0))
        events.append(pretty_midi.ControlChange(64, int(rng.integers(64, 128)), t))
        events.append(pretty_midi.ControlChange(64, int(rng.integers(0, 64)), t + down))
        t += down + float(rng.uniform(0.02, 1.0))
    return events


def synthetic_midi(texture: str, rng: np.random.Generator, seconds: float) -> pretty_midi.PrettyMIDI:
    """A clip MIDI of ``seconds`` seconds of one texture; about a third of clips use the sustain pedal."""
    midi, piano = new_piano_midi()
    for pitch, start, end, vel in TEXTURES[texture](rng, seconds):
        piano.notes.append(pretty_midi.Note(vel, pitch, start, max(end, start + 0.02)))
    piano.notes = resolve_overlaps(piano.notes)
    if rng.random() < 0.35:
        piano.control_changes.extend(_pedal_events(rng, seconds))
    add_end_marker(midi, seconds)
    return midi
