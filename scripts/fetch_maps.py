"""Bring MAPS in from a git snapshot of jongwook/onsets-and-frames: `python scripts/fetch_maps.py`.

Writes data/maps/<instrument>/<stem>.flac + <stem>.mid (key-release note ends, CC64 rebuilt from the
pedal-release note list of the repository's first MAPS commit) and data/maps/inventory.json (files per
instrument, which were missing from the snapshot, the pieces left out of training). Only the instruments in
piano_ai.data.maps.EXTRACTED are read; every other recording is only counted by name. Data only, git-ignored,
never committed; licence CC BY-NC-SA (MAPS, Emiya et al.).

--git-dir takes a bare snapshot (the search tool's fetch puts one under /work/.mirror); without one the
repository is cloned from GitHub (about 1 GB).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from piano_ai.data.maps import EXTRACTED, TRAIN_INSTRUMENTS, maps_midi, parse_tsv, pedal_intervals, split_stem

URL = "https://github.com/jongwook/onsets-and-frames"
MIRROR = Path("/work/.mirror/jongwook+onsets-and-frames/repo")
FIRST_MAPS_COMMIT = "598540f"  # MAPS's own text layout: note ends at pedal release
FLAC_DIR, TSV_DIR = "data/MAPS/flac", "data/MAPS/tsv/matched"


def git(git_dir: Path, *args: str) -> bytes:
    return subprocess.run(["git", "--git-dir", str(git_dir), *args], check=True, capture_output=True).stdout


def has_blob(git_dir: Path, sha: str) -> bool:
    probe = subprocess.run(["git", "--git-dir", str(git_dir), "cat-file", "-e", sha], capture_output=True)
    return probe.returncode == 0


def snapshot(git_dir: Path | None, out: Path) -> Path:
    if git_dir is not None:
        return git_dir
    if MIRROR.exists():
        return MIRROR
    clone = out / ".onsets-and-frames.git"
    if not clone.exists():
        subprocess.run(["git", "clone", "--bare", URL, str(clone)], check=True)
    return clone


def fetch(git_dir: Path, out: Path, pedal_commit: str = FIRST_MAPS_COMMIT) -> dict:
    """Extract the available recordings of EXTRACTED instruments; returns the inventory."""
    listing = git(git_dir, "ls-tree", "-r", "HEAD", FLAC_DIR).decode().splitlines()
    inventory: dict = {"source": URL, "licence": "CC BY-NC-SA", "written": {}, "missing": [], "not_read": 0}
    untrained_pieces = set()
    for row in listing:
        meta, path = row.split("\t")
        sha, stem = meta.split()[2], Path(path).stem
        piece, instrument = split_stem(stem)
        if instrument not in TRAIN_INSTRUMENTS:
            untrained_pieces.add(piece)
        if instrument not in EXTRACTED:
            inventory["not_read"] += 1
            continue
        if not has_blob(git_dir, sha):
            inventory["missing"].append(stem)
            continue
        folder = out / instrument
        folder.mkdir(parents=True, exist_ok=True)
        tsv = f"{TSV_DIR}/{stem}.tsv"
        key_notes = parse_tsv(git(git_dir, "show", f"HEAD:{tsv}").decode())
        pedal_notes = parse_tsv(git(git_dir, "show", f"{pedal_commit}:{tsv}").decode())
        maps_midi(key_notes, pedal_intervals(key_notes, pedal_notes)).write(str(folder / f"{stem}.mid"))
        (folder / f"{stem}.flac").write_bytes(git(git_dir, "cat-file", "blob", sha))
        inventory["written"][instrument] = inventory["written"].get(instrument, 0) + 1
    inventory["untrained_pieces"] = sorted(untrained_pieces)  # left out of training on every instrument
    (out / "inventory.json").write_text(json.dumps(inventory, indent=1) + "\n")
    return inventory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--git-dir", type=Path, help=f"bare snapshot (default: {MIRROR} or a fresh clone)")
    parser.add_argument("--out", type=Path, default=Path("data/maps"))
    parser.add_argument(
        "--pedal-commit", default=FIRST_MAPS_COMMIT, help="commit whose note lists end at pedal release"
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    inventory = fetch(snapshot(args.git_dir, args.out), args.out, args.pedal_commit)
    print(json.dumps({k: inventory[k] for k in ("written", "not_read")}, indent=1))
    print(f"{len(inventory['missing'])} files missing from the snapshot (4 MiB and over)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
