"""The music21 corpus as a source: piano-playable scores turned into humanised performances.

Scores are parsed by music21 into timed notes (cached per process), then given a performer's imperfections
from the clip's seed: onset jitter, phrase-level dynamics with a louder top voice, varied articulation,
and, for some clips, legato sustain pedalling that changes with the bass.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import pretty_midi

from piano_ai.constants import HIGHEST_KEY, LOWEST_KEY

# Corpus folders whose works sit well on a piano: keyboard works, chorales, string quartets, songs.
PIANO_COMPOSERS = (
    "bach",
    "beethoven",
    "mozart",
    "haydn",
    "schumann_robert",
    "schumann_clara",
    "chopin",
    "joplin",
    "schubert",
    "beach",
    "cpebach",
    "schoenberg",
    "corelli",
    "handel",
    "weber",
    "johnson_j_r",
    "liliuokalani",
    "verdi",
    "monteverdi",
)
FORMAT_PREFERENCE = (".mxl", ".xml", ".musicxml", ".krn")  # one file per work: the first format found
ONSET_JITTER_S = 0.012  # standard deviation of onset timing noise, seconds
P_PEDAL = 0.5  # share of score clips played with the sustain pedal
CACHE_DIR = Path.home() / ".cache" / "piano-ai" / "music21"  # parsed scores, keyed by file content
CACHE_VERSION = "v1"  # bump when _parse_score changes


@lru_cache
def music21_pieces() -> dict[str, list[str]]:
    """Piece ("music21/<composer>/<work>") -> [corpus file], one file per work."""
    from music21 import corpus

    best: dict[str, tuple[int, str]] = {}
    for path in corpus.getPaths():
        rel = str(path).split("/corpus/", 1)[-1]
        top = rel.split("/", 1)[0]
        suffix = Path(rel).suffix.lower()
        if top not in PIANO_COMPOSERS or suffix not in FORMAT_PREFERENCE:
            continue
        piece = "music21/" + str(Path(rel).with_suffix(""))
        rank = FORMAT_PREFERENCE.index(suffix)
        if piece not in best or rank < best[piece][0]:
            best[piece] = (rank, str(path))
    return {piece: [path] for piece, (_, path) in sorted(best.items())}


@lru_cache(maxsize=64)
def _score_notes(path: str) -> tuple[tuple[int, float, float], ...]:
    """(pitch, start s, end s) of every pitched note, ties merged, repeats not expanded.

    Times follow the score's metronome marks (music21's secondsMap); scores without one get its default.
    Parsing a big score takes up to a minute, so results are kept in memory and in CACHE_DIR.
    """
    digest = hashlib.sha1(Path(path).read_bytes()).hexdigest()[:16]
    cached = CACHE_DIR / f"{CACHE_VERSION}-{digest}.npy"
    if cached.exists():
        return tuple((int(p), float(s), float(e)) for p, s, e in np.load(cached))
    notes = _parse_score(path)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(tmp, np.asarray(notes, dtype=np.float64).reshape(-1, 3))
    os.replace(tmp, cached)  # atomic: parallel workers may race to write the same score
    return notes


def _parse_score(path: str) -> tuple[tuple[int, float, float], ...]:
    from music21 import chord, converter, note

    score = converter.parse(path)
    score.stripTies(inPlace=True)
    notes: list[tuple[int, float, float]] = []
    for entry in score.flatten().secondsMap:
        element = entry["element"]
        if not isinstance(element, note.Note | chord.Chord):
            continue
        start = float(entry["offsetSeconds"])
        length = max(float(entry["durationSeconds"]), 0.06)  # grace notes have no written length
        for pitch in element.pitches:
            notes.append((int(pitch.midi), start, start + length))
    return tuple(sorted(notes, key=lambda n: (n[1], n[0])))


def humanize(
    score_notes: tuple[tuple[int, float, float], ...], rng: np.random.Generator
) -> pretty_midi.PrettyMIDI:
    """A performance of (pitch, start, end) score notes: one piano track with jitter, dynamics, articulation,
    and maybe pedal."""
    out = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    piano = pretty_midi.Instrument(program=0, name="piano")
    out.instruments.append(piano)
    raw = [
        pretty_midi.Note(0, p, start, end) for p, start, end in score_notes if LOWEST_KEY <= p <= HIGHEST_KEY
    ]
    if not raw:
        return out
    end = max(n.end for n in raw)
    # Phrase dynamics: a smooth random curve (knots every ~4 s) around a clip-level loudness.
    knots = np.arange(0.0, end + 8.0, 4.0)
    curve = np.clip(rng.uniform(35, 95) + np.cumsum(rng.normal(0, 9, len(knots))), 15, 120)
    articulation = float(rng.uniform(0.55, 1.0))
    top: dict[float, int] = {}  # onset time -> highest pitch struck then
    for n in raw:
        key = round(n.start, 3)
        top[key] = max(top.get(key, 0), n.pitch)
    for n in raw:
        loud = float(np.interp(n.start, knots, curve)) + rng.normal(0, 7)
        if top.get(round(n.start, 3)) == n.pitch:
            loud += 8  # melody voice sings over the accompaniment
        start = max(0.0, n.start + float(rng.normal(0, ONSET_JITTER_S)))
        length = max((n.end - n.start) * articulation * float(rng.uniform(0.9, 1.1)), 0.03)
        piano.notes.append(
            pretty_midi.Note(int(np.clip(round(loud), 1, 127)), n.pitch, start, start + length)
        )
    piano.notes.sort(key=lambda n: (n.start, n.pitch))
    if rng.random() < P_PEDAL:
        piano.control_changes.extend(_bass_pedalling(piano.notes, rng))
    return out


def _bass_pedalling(
    notes: list[pretty_midi.Note], rng: np.random.Generator
) -> list[pretty_midi.ControlChange]:
    """Legato pedalling: lift at each new bass note (at most every ~0.7 s), press again just after."""
    events: list[pretty_midi.ControlChange] = []
    low = np.percentile([n.pitch for n in notes], 30)
    last = -10.0
    for n in notes:
        if n.pitch <= low and n.start - last >= 0.7:
            lift = max(n.start - 0.02, last + 0.05, 0.0)
            if events:
                events.append(pretty_midi.ControlChange(64, int(rng.integers(0, 30)), lift))
            events.append(
                pretty_midi.ControlChange(
                    64, int(rng.integers(90, 128)), n.start + float(rng.uniform(0.05, 0.15))
                )
            )
            last = n.start
    if events:
        events.append(pretty_midi.ControlChange(64, 0, last + float(rng.uniform(1.0, 3.0))))
    return events


def score_midi(path: str, seed: int) -> pretty_midi.PrettyMIDI:
    """A humanised performance (seeded) of the corpus score at ``path``."""
    return humanize(_score_notes(path), np.random.default_rng([seed, 21]))
