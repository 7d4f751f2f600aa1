"""Build a rendered dataset: plan clips from the seed, render them (maybe in parallel), write the manifest.

Run as ``python -m piano_ai.data.build --out data/rendered/v1`` or ``piano-ai data build``.
The manifest is written last, so its presence means the build finished.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from piano_ai.constants import HOP_LENGTH, N_MELS, SAMPLE_RATE
from piano_ai.data.options import (
    ALL_INSTRUMENTS,
    ALL_SOURCES,
    EXTRA_INSTRUMENTS,
    VAL_ONLY_INSTRUMENTS,
    add_arguments,
)
from piano_ai.data.plan import VAL_PER_MILLE, ClipSpec, plan
from piano_ai.data.shards import MANIFEST, open_location

logger = logging.getLogger(__name__)

MANIFEST_VERSION = 1
MAX_FAILED_CLIPS, MAX_FAILED_SHARE = 3, 0.02  # more failures than this mean a broken setup, not a bad file


def _csv(value: str, allowed: Sequence[str], what: str) -> tuple[str, ...]:
    items = tuple(v.strip() for v in value.split(",") if v.strip())
    unknown = [v for v in items if v not in allowed]
    if unknown or not items:
        raise SystemExit(f"unknown {what}: {unknown or value!r}; choose from {', '.join(allowed)}")
    return items


def _render_all(specs: list[ClipSpec], out: str, level: str, workers: int) -> Iterator[dict]:
    from piano_ai.data.clip import render_clip

    jobs = [(spec, out, level) for spec in specs]
    if workers <= 1:
        yield from map(render_clip, jobs)
        return
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        yield from pool.imap(render_clip, jobs, chunksize=1)


def _hours(shards: list[dict], **match: str) -> float:
    return sum(s["seconds"] for s in shards if all(s[k] == v for k, v in match.items())) / 3600


def _summary(shards: list[dict]) -> dict:
    """Hours of audio and clip counts per split by source and by instrument."""
    out: dict = {}
    for split in ("train", "val"):
        rows = [s for s in shards if s["split"] == split]
        out[split] = {
            "clips": len(rows),
            "notes": sum(s["notes"] for s in rows),
            "pieces": len({s["piece"] for s in rows}),
            **{
                f"hours_by_{key}": {
                    v: round(_hours(rows, **{key: v}), 3) for v in sorted({s[key] for s in rows})
                }
                for key in ("source", "instrument")
            },
        }
    return out


def _render_with_progress(specs: list[ClipSpec], args: argparse.Namespace) -> tuple[list[dict], list[dict]]:
    """Render every clip, showing hours of audio done; returns (manifest entries, failed clips)."""
    from tqdm import tqdm

    shards: list[dict] = []
    failed: list[dict] = []
    progress = tqdm(
        total=sum(s.seconds for s in specs) / 3600,
        unit="h",
        desc=f"render {args.out}",
        bar_format="{l_bar}{bar}| {n:.2f}/{total:.2f} h [{elapsed}<{remaining}]",
        file=sys.stderr,
    )
    for entry in _render_all(specs, args.out, args.augment, args.workers):
        (failed if "error" in entry else shards).append(entry)
        progress.update(entry.get("seconds", 0.0) / 3600)
    progress.close()
    return shards, failed


def _retry_failed(
    specs: list[ClipSpec], failed: list[dict], shards: list[dict], args: argparse.Namespace
) -> tuple[list[dict], list[dict]]:
    """Render the failed clips once more, one at a time; returns (all entries in path order, still failed)."""
    from piano_ai.data.clip import render_clip

    by_path = {spec.shard_path: spec for spec in specs}
    logger.info("retrying %d failed clips", len(failed))
    retried = [render_clip((by_path[f["path"]], args.out, args.augment)) for f in failed]
    shards = sorted(shards + [e for e in retried if "error" not in e], key=lambda e: e["path"])
    return shards, [e for e in retried if "error" in e]


def build(args: argparse.Namespace) -> dict:
    """Render every planned clip to ``args.out`` and write manifest.json there; returns the manifest."""
    sources = _csv(args.sources, ALL_SOURCES, "sources")
    chosen = _csv(args.instruments, ALL_INSTRUMENTS + EXTRA_INSTRUMENTS, "instruments")
    storage = open_location(args.out)
    if storage.exists(MANIFEST) and not getattr(args, "force", False):
        raise SystemExit(f"{args.out} already holds a finished dataset; pick another --out or pass --force")
    began = time.monotonic()
    specs = [
        *plan(args.seed, "train", args.hours_train, sources, chosen),
        *plan(args.seed, "val", args.hours_val, sources, chosen),
    ]
    shards, failed = _render_with_progress(specs, args)
    if failed:  # a renderer that failed under load (sfizz's streaming) usually succeeds on a second try
        shards, failed = _retry_failed(specs, failed, shards, args)
    if len(failed) > max(MAX_FAILED_CLIPS, MAX_FAILED_SHARE * len(specs)):
        raise SystemExit(
            f"{len(failed)} of {len(specs)} clips failed (first: {failed[0]['error']}); no manifest"
        )
    hours = {split: _hours(shards, split=split) for split in ("train", "val")}
    manifest = {
        "version": MANIFEST_VERSION,
        "seed": args.seed,
        "constants": {"sample_rate": SAMPLE_RATE, "hop_length": HOP_LENGTH, "n_mels": N_MELS},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "build_seconds": round(time.monotonic() - began, 1),
        "hours": {k: round(v, 3) for k, v in hours.items()},
        "sources": list(sources),
        "instruments": {
            "train": [i for i in chosen if i not in VAL_ONLY_INSTRUMENTS],
            "val": list(chosen),
        },
        "split_rule": f"sha1(piece) % 1000 < {VAL_PER_MILLE} -> val; {list(VAL_ONLY_INSTRUMENTS)} val-only",
        "augment": args.augment,
        "summary": _summary(shards),
        "failed": failed,  # clips skipped after an error (their shard numbers are missing)
        "shards": shards,
    }
    storage.put_bytes(MANIFEST, json.dumps(manifest, indent=1).encode(), "application/json")
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m piano_ai.data.build", description=__doc__)
    add_arguments(parser)
    return build_and_report(parser.parse_args(argv))


def build_and_report(args: argparse.Namespace) -> int:
    """Build with logging on and say what was written; returns the exit status."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    manifest = build(args)
    logger.info(
        "wrote %d shards to %s: %.2f h train, %.2f h val in %.0f s",
        len(manifest["shards"]),
        args.out,
        manifest["hours"]["train"],
        manifest["hours"]["val"],
        manifest["build_seconds"],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
