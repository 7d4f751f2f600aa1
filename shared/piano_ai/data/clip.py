"""Render one planned clip into a shard: MIDI excerpt -> audio -> augmentation -> log-mel + targets."""

from __future__ import annotations

import logging
from functools import lru_cache

import numpy as np
import pretty_midi

from piano_ai.constants import SAMPLE_RATE
from piano_ai.data.augment import FULL, LIGHT, AugmentConfig, augment, detune_ratio, undo_stretch
from piano_ai.data.excerpt import excerpt
from piano_ai.data.plan import ClipSpec
from piano_ai.data.render import instruments, render
from piano_ai.data.shards import Shard, encode_shard, open_location
from piano_ai.data.synthetic import synthetic_midi
from piano_ai.data.targets import (
    key_notes,
    key_release_targets,
    midi_sustain,
    notes_to_targets,
    pedal_extended_notes,
    pedal_target,
)
from piano_ai.types import FloatArray

AUGMENT_LEVELS = {"none": None, "light": LIGHT, "full": FULL}
TAIL_S = (0.5, 2.5)  # release tail rendered after the last onset of an excerpt, seconds
MIN_NOTES = 4  # an excerpt with fewer notes (a long rest) is drawn again
EXCERPT_TRIES = 6

logger = logging.getLogger(__name__)


@lru_cache(maxsize=32)
def _load_midi(path: str) -> pretty_midi.PrettyMIDI:
    return pretty_midi.PrettyMIDI(path)


def _source_midi(spec: ClipSpec) -> pretty_midi.PrettyMIDI:
    if spec.source == "asap":
        return _load_midi(spec.path)
    from piano_ai.data.scores import score_midi

    return score_midi(spec.path, spec.seed)


def clip_midi(spec: ClipSpec, rng: np.random.Generator) -> tuple[pretty_midi.PrettyMIDI, float, float]:
    """The clip's MIDI (times from 0), its length in seconds and where it starts in the source (s)."""
    if spec.source == "synthetic":
        texture = spec.piece.split("/")[1]
        return synthetic_midi(texture, rng, spec.seconds), spec.seconds, 0.0
    source = _source_midi(spec)
    total = source.get_end_time() * spec.time_scale
    tail = float(rng.uniform(*TAIL_S))
    window = max(spec.seconds - tail, 1.0)
    best: tuple[pretty_midi.PrettyMIDI, float, float] | None = None
    for _ in range(EXCERPT_TRIES):
        start = float(rng.uniform(0.0, max(total - window, 0.0)))
        seconds = min(spec.seconds, max(total - start, 0.0) + tail)
        midi = excerpt(source, start, window, seconds, spec.time_scale)
        count = len(midi.instruments[0].notes)
        if best is None or count > len(best[0].instruments[0].notes):
            best = (midi, seconds, start)
        if count >= MIN_NOTES:
            break
    assert best is not None
    return best


def clip_audio(
    spec: ClipSpec, augment_config: AugmentConfig | None
) -> tuple[FloatArray, pretty_midi.PrettyMIDI, dict]:
    """Render and augment one clip: (audio (samples,) float32 at SAMPLE_RATE, its MIDI, facts).

    Deterministic in ``spec``: evaluation re-renders validation clips with this, sample for sample.
    The reference notes are pedal_extended_notes(midi).
    """
    rng = np.random.default_rng(spec.seed)
    midi, seconds, start = clip_midi(spec, rng)
    ratio = detune_ratio(rng, augment_config) if augment_config is not None else 1.0
    if ratio == 1.0:
        audio = render(midi, instruments()[spec.instrument], seconds)
    else:  # render a stretched copy, then play it faster: same timing, pitch off by ratio
        stretched = excerpt(midi, 0.0, seconds * 2 + 60.0, seconds * ratio, ratio)
        audio = render(stretched, instruments()[spec.instrument], seconds * ratio)
        audio = undo_stretch(audio, ratio, int(round(seconds * SAMPLE_RATE)))
    applied: dict = {}
    if augment_config is not None:
        audio, applied = augment(audio, rng, augment_config)
        if ratio != 1.0:
            applied["detune_cents"] = round(1200 * float(np.log2(ratio)), 1)
    return audio, midi, {"start_s": round(start, 3), "augment": applied}


def make_shard(spec: ClipSpec, augment_config: AugmentConfig | None) -> tuple[Shard, dict]:
    """Arrays of one clip and the facts about it that go in the manifest."""
    from piano_ai.features import log_mel

    audio, midi, facts = clip_audio(spec, augment_config)
    mel = log_mel(audio).astype(np.float16)
    shard: Shard = {"mel": mel, **notes_to_targets(pedal_extended_notes(midi), mel.shape[0])}
    shard["pedal"] = pedal_target(midi_sustain(midi), mel.shape[0])
    shard |= key_release_targets(key_notes(midi), mel.shape[0])
    facts |= {
        "frames": int(mel.shape[0]),
        "seconds": round(len(audio) / SAMPLE_RATE, 3),
        "notes": int(shard["onset"].sum()),
    }
    return shard, facts


def render_clip(job: tuple[ClipSpec, str, str]) -> dict:
    """Worker entry point: render ``spec``, write its shard under ``out``; returns its manifest entry.

    A clip that fails is logged and returned as {"path", "piece", "instrument", "error"} instead.

    The entry's "spec" re-creates the clip exactly: clip_audio(ClipSpec(**entry["spec"]), level).
    """
    spec, out, level = job
    try:
        shard, facts = make_shard(spec, AUGMENT_LEVELS[level])
    except Exception as exc:  # one bad score or a crashed renderer must not sink an hour-long build
        logger.warning("skipping %s (%s, %s): %s", spec.shard_path, spec.piece, spec.instrument, exc)
        return {"path": spec.shard_path, "piece": spec.piece, "instrument": spec.instrument,
                "error": f"{type(exc).__name__}: {exc}"}  # fmt: skip
    _storage(out).put_bytes(spec.shard_path, encode_shard(shard), "application/octet-stream")
    return {
        "path": spec.shard_path,
        "split": spec.split,
        "piece": spec.piece,
        "instrument": spec.instrument,
        "source": spec.source,
        "frames": facts["frames"],
        "seconds": facts["seconds"],
        "seed": spec.seed,
        "notes": facts["notes"],
        "start_s": facts["start_s"],
        "augment": facts["augment"],
        "spec": spec.to_dict(),
    }


@lru_cache(maxsize=4)
def _storage(out: str):  # type: ignore[no-untyped-def]
    return open_location(out)
