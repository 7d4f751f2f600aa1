"""Decide, from the seed alone, which clips a build renders: source, piece, instrument, length, tempo.

Splits are by piece and by instrument, never by frames: a piece whose path hashes into the lowest
VAL_PER_MILLE of 1000 buckets is validation-only, and VAL_ONLY_INSTRUMENTS never appear in train.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from piano_ai.data.options import VAL_ONLY_INSTRUMENTS
from piano_ai.data.render import TRAINING_DATA
from piano_ai.data.synthetic import TEXTURES

VAL_PER_MILLE = 80  # ~8% of pieces are validation-only
ASAP_DIR = TRAINING_DATA / "performance-midi" / "asap"
ASAP_SCORE_NAME = "midi_score.mid"  # a piece's quantized score (velocity 80), not a performance
SOURCE_WEIGHTS = {"asap": 0.6, "music21": 0.15, "synthetic": 0.25}  # share of clips per source
CLIP_SECONDS = (12.0, 30.0)  # clip length range, seconds (shards hold <= 30 s)
TIME_SCALE = (0.85, 1.2)  # tempo augmentation range: factor applied to every MIDI time
SPLIT_CODES = {"train": 0, "val": 1}


@dataclass(frozen=True)
class ClipSpec:
    """Everything needed to render one shard; rendering draws the rest from ``seed``."""

    split: str  # "train" or "val"
    index: int  # position in its split; the shard is <split>/<index:06d>.npz
    source: str  # "asap", "music21" or "synthetic"
    piece: str  # the unit of the split, e.g. "asap/Chopin/Etudes_op_10/3"
    path: str  # the performance/score file ("" for synthetic; the texture name is in piece)
    instrument: str  # a name from render.instruments()
    seconds: float  # planned clip length (an excerpt near a piece's end may come out shorter)
    time_scale: float  # factor on every MIDI time before rendering (2.0 = half tempo)
    seed: int  # seeds the excerpt choice, humanisation and augmentation

    @property
    def shard_path(self) -> str:
        return f"{self.split}/{self.index:06d}.npz"

    def to_dict(self) -> dict:
        return asdict(self)


def is_val_piece(piece: str) -> bool:
    """Deterministic piece-level split: about VAL_PER_MILLE / 1000 of pieces are validation-only."""
    digest = hashlib.sha1(piece.encode("utf-8")).hexdigest()
    return int(digest[:8], 16) % 1000 < VAL_PER_MILLE


def asap_performances(root: Path = ASAP_DIR) -> list[Path]:
    """Every ASAP performance MIDI, sorted; each piece's quantized score (midi_score.mid) is not one."""
    return sorted(p for p in root.rglob("*.mid") if p.name != ASAP_SCORE_NAME)


@lru_cache
def asap_pieces(root: str = str(ASAP_DIR)) -> dict[str, list[str]]:
    """ASAP performances grouped by piece (composer/work/[movement]); piece -> sorted file paths."""
    pieces: dict[str, list[str]] = {}
    for path in asap_performances(Path(root)):
        piece = "asap/" + path.parent.relative_to(root).as_posix()
        pieces.setdefault(piece, []).append(str(path))
    return pieces


def catalog(sources: tuple[str, ...]) -> dict[str, dict[str, list[str]]]:
    """source -> piece -> files, for the file-based sources requested."""
    out: dict[str, dict[str, list[str]]] = {}
    if "asap" in sources:
        out["asap"] = asap_pieces()
    if "music21" in sources:
        from piano_ai.data.scores import music21_pieces

        out["music21"] = music21_pieces()
    return out


def plan(
    seed: int, split: str, hours: float, sources: tuple[str, ...], instruments: tuple[str, ...]
) -> list[ClipSpec]:
    """Clips for one split until their planned length reaches ``hours``.

    Train draws instruments at random from ``instruments`` minus VAL_ONLY_INSTRUMENTS; val cycles
    through every instrument so each one is measured on held-out pieces.
    """
    rng = np.random.default_rng([seed, SPLIT_CODES[split]])
    pieces = {
        source: sorted(p for p in by_piece if is_val_piece(p) == (split == "val"))
        for source, by_piece in catalog(sources).items()
    }
    files = catalog(sources)
    usable = [s for s in sources if s == "synthetic" or pieces.get(s)]
    weights = np.array([SOURCE_WEIGHTS[s] for s in usable])
    weights /= weights.sum()
    pool = [i for i in instruments if split == "val" or i not in VAL_ONLY_INSTRUMENTS]
    if not pool or not usable:
        raise ValueError(f"nothing to render for {split}: sources={sources} instruments={instruments}")
    specs: list[ClipSpec] = []
    budget, total, synthetic_counter = hours * 3600.0, 0.0, 0
    while total < budget:
        source = str(rng.choice(usable, p=weights))
        if source == "synthetic":
            texture = str(rng.choice(list(TEXTURES)))
            while True:  # synthetic "pieces" are split by the same hash as real ones
                piece = f"synthetic/{texture}/{seed}-{synthetic_counter}"
                synthetic_counter += 1
                if is_val_piece(piece) == (split == "val"):
                    break
            path, scale = "", 1.0
        else:
            piece = pieces[source][int(rng.integers(len(pieces[source])))]
            path = files[source][piece][int(rng.integers(len(files[source][piece])))]
            scale = round(float(rng.uniform(*TIME_SCALE)), 4)
        instrument = pool[len(specs) % len(pool)] if split == "val" else pool[int(rng.integers(len(pool)))]
        seconds = round(float(rng.uniform(*CLIP_SECONDS)), 3)
        specs.append(
            ClipSpec(
                split, len(specs), source, piece, path, instrument, seconds, scale, int(rng.integers(2**31))
            )
        )
        total += seconds
    return specs
