"""Shards from MAPS recordings: `piano-ai data maps --src data/maps --out data/rendered/maps`.

Train: every training instrument's recordings (data.maps.TRAIN_INSTRUMENTS) minus the pieces that a
recording outside them also plays, cut into 12-30 s clips from a random phase, ``copies`` times with different
seeds: copy 0 lightly augmented, the rest fully (room, EQ, noise, level, codecs, detuning). Val: ENSTDkCl,
the real-recording development set, cut into consecutive clips without augmentation. The manifest has the
same layout as `piano-ai data build`'s, so `piano-ai train --data A,B` mixes both.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from piano_ai.constants import SAMPLE_RATE
from piano_ai.data.augment import FULL, LIGHT, AugmentConfig, augment, detune_ratio
from piano_ai.data.maps import DEV_INSTRUMENT, TRAIN_INSTRUMENTS, split_stem
from piano_ai.data.plan import CLIP_SECONDS
from piano_ai.data.shards import MANIFEST, encode_shard, open_location
from piano_ai.types import Note

logger = logging.getLogger(__name__)
VAL_CLIP_S = 30.0  # dev recordings are cut into consecutive clips of this length
MIN_CLIP_S = 4.0  # a shorter tail of a recording is dropped


def recordings(root: Path) -> tuple[list[Path], list[Path]]:
    """(train, val) audio paths: val is ENSTDkCl; train skips every piece an untrained recording plays."""
    inventory = json.loads((root / "inventory.json").read_text())
    excluded = set(inventory["untrained_pieces"])
    train = [
        path
        for instrument in TRAIN_INSTRUMENTS
        for path in sorted((root / instrument).glob("*.flac"))
        if split_stem(path.stem)[0] not in excluded
    ]
    return train, sorted((root / DEV_INSTRUMENT).glob("*.flac"))


def reference(path: Path) -> tuple[list[Note], list[Note], list[tuple[float, float]]]:
    """The recording's notes with the sustain pedal applied, the same notes ending at key release, and
    its sustain intervals (down, up) in seconds."""
    import pretty_midi

    from piano_ai.data.targets import key_notes, midi_sustain, pedal_extended_notes

    midi = pretty_midi.PrettyMIDI(str(path.with_suffix(".mid")))
    return pedal_extended_notes(midi), key_notes(midi), midi_sustain(midi)


def clip_bounds(seconds: float, rng: np.random.Generator | None) -> list[tuple[float, float]]:
    """(start, end) of consecutive clips covering a recording: random 12-30 s from a random phase, or
    VAL_CLIP_S from 0 without a generator. Clips under MIN_CLIP_S are dropped."""
    phase = min(CLIP_SECONDS[0], max(seconds - MIN_CLIP_S, 0.0) / 2)  # short recordings keep a clip
    bounds, start = [], float(rng.uniform(0, phase)) if rng is not None else 0.0
    while seconds - start >= MIN_CLIP_S:
        length = float(rng.uniform(*CLIP_SECONDS)) if rng is not None else VAL_CLIP_S
        bounds.append((start, min(start + length, seconds)))
        start += length
    return bounds


def clip_shard(
    audio: np.ndarray,
    notes: tuple[list[Note], list[Note]],
    sustain: list[tuple[float, float]],
    start: float,
    ratio: float,
) -> dict:
    """Log-mel and targets of audio[start:] (seconds) played ``ratio`` times faster (pitch x ratio).

    ``notes``: (pedal-extended, key-release) reference notes."""
    from piano_ai.data.augment import undo_stretch
    from piano_ai.data.targets import key_release_targets, notes_to_targets, pedal_target
    from piano_ai.features import log_mel

    if ratio != 1.0:
        audio = undo_stretch(audio, ratio, int(len(audio) / ratio))
    mel = log_mel(audio).astype(np.float16)
    sounding, keys = ([Note(n.pitch, n.start / ratio, n.end / ratio, n.velocity) for n in ns] for ns in notes)
    frames, at = mel.shape[0], start / ratio
    pedal = pedal_target([(down / ratio, up / ratio) for down, up in sustain], frames, at)
    return {
        "mel": mel,
        **notes_to_targets(sounding, frames, at),
        "pedal": pedal,
        **key_release_targets(keys, frames, at),
    }


def recording_shards(job: tuple[str, str, int, int, str]) -> list[dict]:
    """Worker: write one recording's clips for one copy (-1 = val) under out; returns manifest entries."""
    from piano_ai.audio import decode

    path_s, out, seed, copy, split = job
    path = Path(path_s)
    audio, (notes, keys, sustain) = decode(path), reference(path)
    config: AugmentConfig | None = None if split == "val" else (LIGHT if copy == 0 else FULL)
    rng = None if split == "val" else np.random.default_rng([seed, copy, *path.stem.encode()])
    piece, instrument = split_stem(path.stem)
    storage, entries = open_location(out), []
    for i, (start, end) in enumerate(clip_bounds(len(audio) / SAMPLE_RATE, rng)):
        clip = audio[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
        ratio, applied = 1.0, dict[str, object]()
        if config is not None and rng is not None:
            ratio = detune_ratio(rng, config)
            clip, applied = augment(clip, rng, config)
        shard = clip_shard(clip, (notes, keys), sustain, start, ratio)
        name = f"{split}/{path.stem}-c{max(copy, 0)}-{i:03d}.npz"
        storage.put_bytes(name, encode_shard(shard), "application/octet-stream")
        entries.append({
            "path": name, "split": split, "piece": f"maps/{piece}", "instrument": f"maps-{instrument}",
            "source": "maps", "frames": int(shard["mel"].shape[0]),
            "seconds": round(len(clip) / SAMPLE_RATE, 3),
            "notes": int(shard["onset"].sum()), "start_s": round(start, 3), "copy": copy,
            "augment": applied | ({"detune_ratio": round(ratio, 5)} if ratio != 1.0 else {}),
        })  # fmt: skip
    return entries


def build(src: Path, out: str, copies: int, seed: int, workers: int) -> dict:
    """Write every train and val shard, then manifest.json; returns the manifest."""
    from tqdm import tqdm

    began = time.monotonic()
    train, val = recordings(src)
    jobs = [(str(p), out, seed, c, "train") for c in range(copies) for p in train]
    jobs += [(str(p), out, seed, -1, "val") for p in val]
    shards: list[dict] = []
    results: Iterable[list[dict]]
    if workers <= 1:
        results = map(recording_shards, jobs)
    else:
        import multiprocessing

        pool = multiprocessing.get_context("spawn").Pool(workers)
        results = pool.imap(recording_shards, jobs, chunksize=1)
    for entries in tqdm(results, total=len(jobs), desc=f"maps -> {out}", unit="file"):
        shards.extend(entries)
    hours = {
        s: round(sum(e["seconds"] for e in shards if e["split"] == s) / 3600, 3) for s in ("train", "val")
    }
    manifest = {
        "version": 1, "seed": seed, "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "build_seconds": round(time.monotonic() - began, 1), "hours": hours, "sources": ["maps"],
        "instruments": {"train": [f"maps-{i}" for i in TRAIN_INSTRUMENTS], "val": [f"maps-{DEV_INSTRUMENT}"]},
        "split_rule": "val = ENSTDkCl; train = other MAPS pianos minus pieces in any ENSTDk recording",
        "augment": f"copy 0 light, copies 1..{copies - 1} full", "copies": copies,
        "recordings": {"train": len(train), "val": len(val)}, "shards": shards,
    }  # fmt: skip
    open_location(out).put_bytes(MANIFEST, json.dumps(manifest, indent=1).encode(), "application/json")
    return manifest


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if open_location(args.out).exists(MANIFEST):
        raise SystemExit(f"{args.out} already holds a finished dataset; pick another --out")
    if not (args.src / "inventory.json").exists():
        raise SystemExit(f"{args.src} has no inventory.json: run `python scripts/fetch_maps.py` first")
    manifest = build(args.src, args.out, args.copies, args.seed, args.workers)
    logger.info("wrote %d shards to %s: %s h in %.0f s", len(manifest["shards"]), args.out,
                manifest["hours"], manifest["build_seconds"])  # fmt: skip
    return 0
