"""`make bench-score`: beat and downbeat F-measure on held-out ASAP performances.

Each validation piece (piano_ai.data.plan.is_val_piece) gives its first ``--per-piece`` performances; from
each, a ``--seconds`` excerpt starting a quarter of the way in is cut from the *reference performance MIDI*
and rendered with FluidSynth (``--instrument``, as the data factory does). The trackers run on that audio (the
transcription model is not involved: madmom and librosa read the audio), and are scored against ASAP's beat
annotations of the performance with mir_eval.beat.f_measure (70 ms window, no trimming of the first seconds).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import mir_eval
import numpy as np
import pretty_midi

from piano_ai.constants import SAMPLE_RATE
from piano_ai.data.excerpt import excerpt
from piano_ai.data.plan import asap_pieces, is_val_piece
from piano_ai.data.render import instruments, render
from piano_ai.midi_io import midi_notes
from piano_ai.score.beats import Beats, fixed_beats, librosa_beats, track_beats
from piano_ai.score.meter import COMPOUND_SHARE, triple_share, with_meter
from piano_ai.score.quantize import DIVISIONS, DUPLE, quantize
from piano_ai.score.tempo import tempo_map
from piano_ai.types import FloatArray, Note

WINDOW_S = 0.07  # mir_eval's default F-measure window, seconds
SCORE_GRID = 48  # score positions are compared on a 1/48-beat grid (sixteenths, triplets, 32nds)
MATCH_BEATS = 0.5  # a performed note is matched to the score's same pitch within half a beat
QUANTIZERS = {"sixteenths or triplets (chosen)": DIVISIONS, "sixteenths only": (DUPLE,)}
START_FRACTION = 0.25  # excerpts start a quarter of the way into the performance

Tracker = Callable[[FloatArray, list[Note]], Beats]
_simple_meter: dict[int, Beats] = {}  # id(audio) -> madmom's beats before the meter stage (tracked once)


def _madmom(audio: FloatArray, notes: list[Note], compound: bool) -> Beats:
    """madmom's beats, with or without the compound-meter stage (score/meter.py) on one tracking."""
    if id(audio) not in _simple_meter:
        _simple_meter[id(audio)] = track_beats(audio, notes, compound=False)
    beats = _simple_meter[id(audio)]
    return with_meter(beats, notes) if compound else beats


TRACKERS: dict[str, Tracker] = {
    "madmom": lambda audio, notes: _madmom(audio, notes, compound=True),
    "madmom-simple-meter": lambda audio, notes: _madmom(audio, notes, compound=False),
    "librosa": lambda audio, notes: librosa_beats(audio),
    "fixed-120": lambda audio, notes: fixed_beats(audio.size / SAMPLE_RATE),
}
COMPOUND_SIGNATURES = ("6/8", "9/8", "12/8", "6/16", "12/16", "24/16")  # ASAP's compound meters


@dataclass
class Excerpt:
    name: str
    audio: FloatArray
    notes: list[Note]
    beats: np.ndarray  # reference beats, seconds from the excerpt start
    downbeats: np.ndarray


@dataclass
class Scores:
    beat: list[float] = field(default_factory=list)
    downbeat: list[float] = field(default_factory=list)
    seconds: float = 0.0


def read_annotations(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """ASAP's ``<performer>_annotations.txt``: (beat times, downbeat times), seconds."""
    beats, downbeats = [], []
    for line in path.read_text().splitlines():
        fields = line.split("\t")
        if len(fields) < 3:
            continue
        t = float(fields[0])
        beats.append(t)
        if fields[2].split(",")[0] == "db":
            downbeats.append(t)
    return np.array(beats), np.array(downbeats)


def excerpts(per_piece: int, seconds: float, instrument: str) -> list[Excerpt]:
    out = []
    for piece, files in sorted(asap_pieces().items()):
        if not is_val_piece(piece):
            continue
        for file in files[:per_piece]:
            path = Path(file)
            performance = pretty_midi.PrettyMIDI(str(path))
            start = round(START_FRACTION * performance.get_end_time(), 3)
            clip = excerpt(performance, start, seconds, seconds)
            audio = render(clip, instruments()[instrument], seconds)
            beats, downbeats = read_annotations(path.with_name(path.stem + "_annotations.txt"))
            inside = (beats >= start) & (beats < start + seconds)
            down_inside = (downbeats >= start) & (downbeats < start + seconds)
            name = f"{piece.removeprefix('asap/')}/{path.stem}"
            out.append(
                Excerpt(name, audio, midi_notes(clip), beats[inside] - start, downbeats[down_inside] - start)
            )
    return out


def score(items: list[Excerpt], names: list[str]) -> dict[str, Scores]:
    results = {name: Scores() for name in names}
    for item in items:
        for name in names:
            began = time.perf_counter()
            beats = TRACKERS[name](item.audio, item.notes)
            results[name].seconds += time.perf_counter() - began
            estimated = np.array(beats.times)
            estimated = estimated[estimated < item.audio.size / SAMPLE_RATE]
            results[name].beat.append(mir_eval.beat.f_measure(item.beats, estimated, WINDOW_S))
            results[name].downbeat.append(
                mir_eval.beat.f_measure(item.downbeats, np.array(beats.downbeats), WINDOW_S)
            )
        print(
            item.name, " ".join(f"{n}={results[n].beat[-1]:.3f}/{results[n].downbeat[-1]:.3f}" for n in names)
        )
    return results


def table(results: dict[str, Scores], count: int, audio_s: float) -> str:
    lines = [
        f"{count} excerpts, {audio_s / 60:.1f} min of audio; mean F-measure (70 ms)",
        "| tracker | beat F | downbeat F | seconds |",
        "|---|---|---|---|",
    ]
    for name, s in results.items():
        beat, downbeat = statistics.mean(s.beat), statistics.mean(s.downbeat)
        lines.append(f"| {name} | {beat:.3f} | {downbeat:.3f} | {s.seconds:.1f} |")
    return "\n".join(lines)


def quantization(per_piece: int) -> dict[str, tuple[int, int]]:
    """Quantizer name -> (performed notes matched to a score note, of those quantized onto its position).

    The grid is ASAP's annotated beats of the performance (not tracked ones: this measures quantize.py alone);
    ASAP's score annotations have the same beats in score time, so beat k of one is beat k of the other.
    """
    counts = dict.fromkeys(QUANTIZERS, (0, 0))
    for piece, files in sorted(asap_pieces().items()):
        if not is_val_piece(piece):
            continue
        score_path = Path(files[0]).with_name("midi_score.mid")
        score_beats, _ = read_annotations(score_path.with_name("midi_score_annotations.txt"))
        score_notes = midi_notes(pretty_midi.PrettyMIDI(str(score_path)))
        positions: dict[int, np.ndarray] = {}
        for n in score_notes:
            position = np.interp(n.start, score_beats, np.arange(len(score_beats)))
            positions.setdefault(n.pitch, np.array([]))
            positions[n.pitch] = np.append(positions[n.pitch], round(position * SCORE_GRID) / SCORE_GRID)
        for file in files[:per_piece]:
            path = Path(file)
            beats, _ = read_annotations(path.with_name(path.stem + "_annotations.txt"))
            if len(beats) != len(score_beats):
                continue
            notes = [
                n for n in midi_notes(pretty_midi.PrettyMIDI(file)) if beats[0] - 0.1 <= n.start <= beats[-1]
            ]
            grid = tempo_map(Beats(tuple(beats), (1,) * len(beats), 1, True), notes[-1].end)  # no bars needed
            first = int(np.argmin(np.abs(np.array(grid.grid) - beats[0])))
            for name, divisions in QUANTIZERS.items():
                matched, exact = counts[name]
                for q in quantize(notes, grid, divisions):
                    candidates = positions.get(q.pitch, np.array([])) - float(q.onset - first)
                    if candidates.size and np.min(np.abs(candidates)) <= MATCH_BEATS:
                        matched += 1
                        exact += int(np.min(np.abs(candidates)) < 1e-6)
                counts[name] = (matched, exact)
    return counts


def quantization_table(counts: dict[str, tuple[int, int]]) -> str:
    lines = [
        "| quantization on ASAP's beats | notes matched | onset on the score's position |",
        "|---|---|---|",
    ]
    for name, (matched, exact) in counts.items():
        lines.append(f"| {name} | {matched} | {exact / max(matched, 1):.3f} |")
    return "\n".join(lines)


def meter_evidence() -> str:
    """On ASAP *training* pieces (first performance, whole, on its annotated beats): how many of each kind
    of meter score/meter.py calls compound (the evidence COMPOUND_SHARE was chosen on)."""
    counts = {"compound": [0, 0], "simple": [0, 0]}  # kind -> [pieces, called compound]
    for piece, files in sorted(asap_pieces().items()):
        if is_val_piece(piece):
            continue
        path = Path(files[0])
        annotations = path.with_name(path.stem + "_annotations.txt")
        fields = [line.split("\t")[2].split(",") for line in annotations.read_text().splitlines()]
        signature = next((f[1] for f in fields if f[0] == "db" and len(f) > 1), "")
        beats, _ = read_annotations(annotations)
        grid = Beats(tuple(beats), (1,) * len(beats), 4, True)
        share, _ = triple_share(grid, midi_notes(pretty_midi.PrettyMIDI(str(path))))
        kind = "compound" if signature in COMPOUND_SIGNATURES else "simple"
        counts[kind][0] += 1
        counts[kind][1] += int(share >= COMPOUND_SHARE)
    lines = [
        f"| ASAP training pieces, annotated beats | pieces | called compound (share >= {COMPOUND_SHARE}) |",
        "|---|---|---|",
    ]
    lines += [f"| {kind} meter | {n} | {hits} |" for kind, (n, hits) in counts.items()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-piece", type=int, default=1, help="performances per validation piece")
    parser.add_argument("--seconds", type=float, default=30.0, help="excerpt length")
    parser.add_argument("--instrument", default="fluidr3", help="a piano_ai.data.render instrument")
    parser.add_argument("--trackers", nargs="+", default=list(TRACKERS), choices=list(TRACKERS))
    parser.add_argument("--quantization-only", action="store_true", help="skip beat tracking")
    parser.add_argument(
        "--meter-evidence", action="store_true", help="only the compound-meter table on training pieces"
    )
    args = parser.parse_args()
    if args.meter_evidence:
        print(meter_evidence())
        return
    print(quantization_table(quantization(args.per_piece)), flush=True)
    if args.quantization_only:
        return
    items = excerpts(args.per_piece, args.seconds, args.instrument)
    results = score(items, args.trackers)
    print(table(results, len(items), sum(i.audio.size for i in items) / SAMPLE_RATE))


if __name__ == "__main__":
    main()
