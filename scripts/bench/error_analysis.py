"""Where a model loses notes on an eval folder: what limits each metric of issue 3's bar.

    .venv/bin/python scripts/bench/error_analysis.py --eval-dir data/eval/v2 [--model DIR] [--limit N]

The model runs once per file (as in tune_notes.py), at the default NoteParams. Prints:
- every F1 by instrument (with onset precision and recall) and by source (evalset names a file
  <index>-<instrument>-<source>);
- the ceiling of the offset and velocity metrics with our onsets: the F1s when every onset-matched note is
  given the reference's end and velocity (so what is lost there is lost to the ends and velocities alone);
- for onset-matched notes, how often the end is within mir_eval's tolerance, by reference note length,
  and whether misses end early or late;
- velocity agreement on onset-matched notes after mir_eval's per-file linear fit (within 0.1 of the
  normalised range is a hit), and the median per-file correlation.
"""

import argparse
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from piano_ai.evaluation.metrics import (
    OFFSET_MIN_TOLERANCE_S,
    OFFSET_RATIO,
    Counts,
    count_matches,
    onset_matches,
)
from piano_ai.notes import notes_from_activations
from piano_ai.types import Activations, Note, NoteParams

LENGTH_BINS_S = (0.0, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, float("inf"))
VELOCITY_TOLERANCE = 0.1  # of the reference's velocity range, as mir_eval.transcription_velocity


@dataclass
class Analysis:
    """Per-note facts gathered over every file."""

    by_instrument: dict[str, Counts] = field(default_factory=dict)
    by_source: dict[str, Counts] = field(default_factory=dict)
    shipped: Counts = field(default_factory=lambda: Counts({}, {}, {}))
    oracle: Counts = field(default_factory=lambda: Counts({}, {}, {}))
    end_error_s: list[float] = field(default_factory=list)  # estimated end - reference end, matched onsets
    ref_length_s: list[float] = field(default_factory=list)
    velocity_hits: list[bool] = field(default_factory=list)
    velocity_corr: list[float] = field(default_factory=list)


def add_file(result: Analysis, stem: str, ref: list[Note], est: list[Note]) -> None:
    """Fold one file's reference and estimated notes into ``result``; ``stem`` is its evalset name."""
    pairs = onset_matches(ref, est)
    instrument, source = instrument_of(stem), source_of(stem)
    matched = count_matches(ref, est)
    result.shipped = result.shipped + matched
    result.by_instrument[instrument] = result.by_instrument.get(instrument, Counts({}, {}, {})) + matched
    result.by_source[source] = result.by_source.get(source, Counts({}, {}, {})) + matched
    fixed = list(est)
    for r, e in pairs:
        fixed[e] = replace(est[e], end=ref[r].end, velocity=ref[r].velocity)
        result.end_error_s.append(est[e].end - ref[r].end)
        result.ref_length_s.append(ref[r].end - ref[r].start)
    result.oracle = result.oracle + count_matches(ref, fixed)
    if len(pairs) >= 3:
        hits, corr = velocity_agreement(ref, est, pairs)
        result.velocity_hits.extend(hits)
        result.velocity_corr.append(corr)


def velocity_agreement(
    ref: list[Note], est: list[Note], pairs: list[tuple[int, int]]
) -> tuple[list[bool], float]:
    """Hits after mir_eval's fit of estimated to normalised reference velocities, and their correlation."""
    all_ref = np.array([n.velocity for n in ref], float)
    span = max(all_ref.max() - all_ref.min(), 1.0)
    r = (np.array([ref[i].velocity for i, _ in pairs], float) - all_ref.min()) / span
    e = np.array([est[j].velocity for _, j in pairs], float)
    slope, intercept = np.linalg.lstsq(np.vstack([e, np.ones_like(e)]).T, r, rcond=None)[0]
    hits = np.abs(slope * e + intercept - r) < VELOCITY_TOLERANCE
    corr = float(np.corrcoef(r, e)[0, 1]) if r.std() > 0 and e.std() > 0 else float("nan")
    return hits.tolist(), corr


def report(result: Analysis) -> list[str]:
    """The printed lines."""
    f1 = lambda c: {m: round(s["f1"], 3) for m, s in c.scores().items()}  # noqa: E731
    lines = [f"default NoteParams: {f1(result.shipped)}"]
    for instrument, counts in sorted(result.by_instrument.items()):
        onset = counts.scores()["onset"]
        lines.append(
            f"  {instrument:12s} onset precision {onset['precision']:.3f} recall {onset['recall']:.3f}, "
            f"F1 {f1(counts)}"
        )
    for source, counts in sorted(result.by_source.items()):
        lines.append(f"  {source:12s} {counts.n_ref.get('onset', 0):6d} notes, F1 {f1(counts)}")
    lines.append(f"reference ends and velocities on onset-matched notes: {f1(result.oracle)}")
    error, length = np.array(result.end_error_s), np.array(result.ref_length_s)
    tolerance = np.maximum(OFFSET_MIN_TOLERANCE_S, OFFSET_RATIO * length)
    hit = np.abs(error) <= tolerance
    lines.append(
        f"onset-matched notes {error.size}, end within tolerance {hit.mean() if error.size else 0:.3f}"
    )
    for lo, hi in zip(LENGTH_BINS_S[:-1], LENGTH_BINS_S[1:], strict=True):
        sel = (length >= lo) & (length < hi)
        if sel.any():
            early = (error[sel] < -tolerance[sel]).mean()
            late = (error[sel] > tolerance[sel]).mean()
            lines.append(
                f"  length {lo:.1f}-{hi:.1f} s: {sel.sum():5d} notes, within {hit[sel].mean():.3f}, "
                f"early {early:.3f}, late {late:.3f}, median error {np.median(error[sel]):+.3f} s"
            )
    if result.velocity_hits:
        share = np.mean(result.velocity_hits)
        lines.append(
            f"velocity within {VELOCITY_TOLERANCE} after the per-file fit: {share:.3f}; "
            f"median per-file correlation {np.nanmedian(result.velocity_corr):.3f}"
        )
    return lines


def instrument_of(stem: str) -> str:
    """The instrument in an evalset file name, <index>-<instrument>-<source> ("?" for other names)."""
    parts = stem.split("-")
    return "-".join(parts[1:-1]) if len(parts) >= 3 else "?"


def source_of(stem: str) -> str:
    """The source (asap, music21, synthetic) in an evalset file name ("?" for other names)."""
    parts = stem.split("-")
    return parts[-1] if len(parts) >= 3 else "?"


def analyse(items: list[tuple[str, Activations, list[Note]]], params: NoteParams | None = None) -> Analysis:
    """items: (evalset file stem, activations, reference notes) per file."""
    result = Analysis()
    for stem, act, ref in items:
        add_file(result, stem, ref, notes_from_activations(act, params or NoteParams()))
    return result


def main(argv: list[str] | None = None) -> int:
    from piano_ai.audio import decode
    from piano_ai.evaluation.evaluate import pairs, reference_notes
    from piano_ai.features import log_mel
    from piano_ai.inference import load_transcriber

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=Path("data/eval/v2"))
    parser.add_argument("--model", help="model directory (default: the shipped model)")
    parser.add_argument("--limit", type=int, default=0, help="first N files only")
    args = parser.parse_args(argv)
    transcriber = load_transcriber(args.model)
    items = [
        (audio.stem, transcriber.predict(log_mel(decode(audio))), reference_notes(midi))
        for audio, midi in pairs(args.eval_dir)[: args.limit or None]
    ]
    print(f"{len(items)} files in {args.eval_dir}, model {transcriber.model_dir}")
    print("\n".join(report(analyse(items))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
