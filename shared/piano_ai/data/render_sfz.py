"""Render MIDI through an SFZ instrument with sfizz (the pysfizz wheel's Python bindings), deterministically.

Why not the wheel's `sfizz_render` binary: sfizz preloads only the first ~0.2 s of each sample and
streams the rest from a background thread. Offline, the render loop can outrun that thread, and the
voice then dies: in our tests about one `sfizz_render` run in three cut notes off after 0.2 s, at
random, so audio and targets disagreed. Here a fresh synth renders each clip in passes: the first
makes sfizz load every sample the clip uses, and we keep a pass once it equals the one before it,
i.e. once every sample was in memory. Repeated renders of a clip are then identical.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from piano_ai.constants import SAMPLE_RATE
from piano_ai.types import FloatArray

if TYPE_CHECKING:
    import pretty_midi

BLOCK = 1024  # samples per sfizz render call (64 ms at 16 kHz); events are placed sample-exactly inside
LOAD_WAIT_S = 0.3  # wall-clock wait between passes for sfizz's loader thread to finish
VOICES = 256  # sfizz's default 64 steals voices in pedalled passages (Headroom plays two mics per key)
MAX_PASSES = 5  # render passes before giving up on two identical ones
PEDAL_CCS = (64, 66, 67)

Event = tuple[int, int, str, int, int]  # (sample, order at that sample, kind, number, value)


def midi_events(midi: pretty_midi.PrettyMIDI) -> list[Event]:
    """Note and controller events in samples; at one instant: note-offs, then controllers, then note-ons."""
    events: list[Event] = []
    for track in midi.instruments:
        if track.is_drum:
            continue
        for n in track.notes:
            events.append((int(round(n.start * SAMPLE_RATE)), 2, "on", n.pitch, n.velocity))
            events.append((int(round(n.end * SAMPLE_RATE)), 0, "off", n.pitch, 0))
        for c in track.control_changes:
            events.append((int(round(c.time * SAMPLE_RATE)), 1, "cc", c.number, c.value))
    events.sort(key=lambda e: (e[0], e[1]))
    return events


def _play(synth: object, events: list[Event], samples: int) -> FloatArray:
    """Run the events through ``synth`` (a pysfizz._sfizz.Synth); mono mix of ``samples`` samples."""
    blocks = samples // BLOCK + 1
    out = np.zeros(blocks * BLOCK, dtype=np.float32)
    i = 0
    for b in range(blocks):
        end = (b + 1) * BLOCK
        while i < len(events) and events[i][0] < end:
            sample, _, kind, number, value = events[i]
            delay = sample - b * BLOCK
            if kind == "on":
                synth.note_on(delay, number, value)  # type: ignore[attr-defined]
            elif kind == "off":
                synth.note_off(delay, number, 0)  # type: ignore[attr-defined]
            else:
                synth.cc(delay, number, value)  # type: ignore[attr-defined]
            i += 1
        left, right = synth.render_block()  # type: ignore[attr-defined]
        out[b * BLOCK : end] = (np.asarray(left) + np.asarray(right)) * 0.5  # copies the synth's buffers
    return out[:samples]


def _reset(synth: object) -> None:
    """Silence every voice and lift the pedals, so the next pass starts like the first."""
    synth.all_sound_off()  # type: ignore[attr-defined]
    for number in PEDAL_CCS:
        synth.cc(0, number, 0)  # type: ignore[attr-defined]
    for _ in range(4):
        synth.render_block()  # type: ignore[attr-defined]


def render_sfz(midi: pretty_midi.PrettyMIDI, sfz: Path, seconds: float) -> FloatArray:
    """Render ``midi`` with the SFZ file ``sfz``: round(seconds * SAMPLE_RATE) mono float32 samples.

    Passes repeat until two in a row are identical (every sample was in memory for both); on a busy
    machine the loader thread may need more than one pass to catch up.
    """
    import pysfizz

    synth = pysfizz.Synth(SAMPLE_RATE, BLOCK)
    synth._synth.set_num_voices(VOICES)
    if not synth.load_sfz_file(str(sfz)):
        raise RuntimeError(f"sfizz could not load {sfz}")
    events = midi_events(midi)
    samples = int(round(seconds * SAMPLE_RATE))
    previous = _play(synth._synth, events, samples)  # the first pass triggers every sample's full load
    for _ in range(MAX_PASSES - 1):
        _reset(synth._synth)
        time.sleep(LOAD_WAIT_S)
        current = _play(synth._synth, events, samples)
        if np.array_equal(current, previous):
            return current
        previous = current
    raise RuntimeError(f"sfizz renders of {sfz.name} kept changing after {MAX_PASSES} passes")
