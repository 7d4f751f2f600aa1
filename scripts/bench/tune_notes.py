"""Pick the post-processing defaults (NoteParams) for a model on eval folders, by grid search.

    .venv/bin/python scripts/bench/tune_notes.py --eval-dir data/eval/v2 [--eval-dir data/maps/ENSTDkCl]
        [--model DIR] [--limit N] [--cache DIR]

The model runs once per file (with --cache, once ever: its outputs are kept as npz per file and model);
every setting re-decodes them. The search goes one knob at a time (onset threshold; frame x offset
threshold; shortest note; onset threshold again), each stage from the best of the one before; the best
maximises onset F1 + offset F1 (velocity rides on offset matching), summed over the sets given. Prints the
top rows (each set's scores) and the winner, to be copied into NoteParams' defaults
(shared/piano_ai/types.py).

A model with a pedal head is scored as `piano-ai evaluate` scores it: its notes extended by its own pedal
against pedal-extended truth. After the note grid, the pedal's threshold and shortest press are searched at
the best note setting (copied into shared/piano_ai/sustain.py's THRESHOLD and shared/piano_ai/pedal.py's
MIN_PRESS_MS). The pedal is the sustain network's (piano_ai.sustain), as decoding finds it.
"""

import argparse
import itertools
import json
from dataclasses import replace
from pathlib import Path

from piano_ai.evaluation.evaluate import pairs, reference_notes
from piano_ai.evaluation.metrics import Counts, count_matches
from piano_ai.mlp import Mlp
from piano_ai.notes import notes_from_activations
from piano_ai.pedal import MIN_PRESS_MS, extend_notes, sustain_intervals
from piano_ai.sustain import THRESHOLD, probability, sums_of
from piano_ai.training.maps_fit import activations
from piano_ai.types import Activations, Note, NoteParams

ONSETS = (0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8)
FRAMES = (0.2, 0.25, 0.3, 0.35, 0.4, 0.5)
OFFSETS = (0.6, 0.7, 0.8, 0.9)
MIN_NOTE_MS = (20.0, 30.0, 50.0)
AXES = {
    "onset_threshold": ONSETS,
    "frame_threshold": FRAMES,
    "offset_threshold": OFFSETS,
    "min_note_ms": MIN_NOTE_MS,
}
# searched one stage after another, each from the best of the one before (a full grid of 576 points takes
# hours on ENSTDkCl's 56 minutes: a point is about 10 s of mir_eval matching)
STAGES = (
    ("onset_threshold",),
    ("frame_threshold", "offset_threshold"),
    ("min_note_ms",),
    ("onset_threshold",),
)
PEDAL_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
MIN_PRESS = (50.0, 100.0, 200.0)
Pedal = tuple[float, float]  # (threshold, shortest press ms)
Items = list[tuple[Activations, list[Note]]]


def cached_activations(eval_dir: Path, model: str | None, limit: int, cache: Path | None = None) -> Items:
    """(activations, reference notes) for each pair in the folder; with ``cache``, the model's outputs are
    read from (or written to) cache/<model>/<folder>/<stem>.npz."""
    return [
        (activations(audio, model, cache), reference_notes(midi))
        for audio, midi in pairs(eval_dir)[: limit or None]
    ]


def f1_scores(
    items: Items, params: NoteParams, pedal: Pedal = (THRESHOLD, MIN_PRESS_MS), sustain_net: Mlp | None = None
) -> dict[str, float]:
    """Note-weighted F1 of every metric at one setting (a pedal model's notes extended by its pedal, found by
    ``sustain_net``, default the shipped one)."""
    total = Counts({}, {}, {})
    for act, ref in items:
        notes = notes_from_activations(act, params)
        sums = sums_of(act)
        if sums is not None:
            notes = extend_notes(notes, sustain_intervals(probability(sums, sustain_net), *pedal))
        total = total + count_matches(ref, notes)
    return {metric: round(s["f1"], 4) for metric, s in total.scores().items()}


Row = tuple[object, list[dict[str, float]]]


def score(row: Row) -> float:
    """Onset F1 + offset F1, summed over the sets."""
    return sum(scores["onset"] + scores["offset"] for scores in row[1])


def show(label: object, per_set: list[dict[str, float]]) -> str:
    return f"{label}  " + "  |  ".join(json.dumps(scores) for scores in per_set)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, action="append", help="repeatable (default: data/eval/v2)")
    parser.add_argument("--model", help="model directory (default: the shipped model)")
    parser.add_argument("--limit", type=int, default=0, help="first N files of each set only")
    parser.add_argument("--cache", type=Path, help="keep the model's outputs here (npz per file)")
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args(argv)

    dirs = args.eval_dir or [Path("data/eval/v2")]
    sets = [cached_activations(d, args.model, args.limit, args.cache) for d in dirs]
    print(
        "sets:",
        ", ".join(f"{d} ({len(items)} files)" for d, items in zip(dirs, sets, strict=True)),
    )
    shipped = NoteParams()
    print(show(f"current defaults {shipped}:", [f1_scores(items, shipped) for items in sets]))
    best = shipped
    for stage in STAGES:
        rows: list[Row] = []
        for values in itertools.product(*(AXES[name] for name in stage)):
            params = replace(best, **dict(zip(stage, values, strict=True)))
            rows.append((params, [f1_scores(items, params) for items in sets]))
        rows.sort(key=score, reverse=True)
        print(f"-- {' x '.join(stage)}, the rest at {best}")
        for row in rows[: args.top]:
            print(show(*row))
        best = rows[0][0]  # type: ignore[assignment]
    print("best:", best)
    if all(act.pedal is not None for items in sets for act, _ in items):
        pedals: list[Row] = [
            (p, [f1_scores(items, best, p) for items in sets])
            for p in itertools.product(PEDAL_THRESHOLDS, MIN_PRESS)
        ]
        pedals.sort(key=score, reverse=True)
        for (threshold, press), per_set in pedals[: args.top]:
            print(show(f"pedal threshold {threshold}, shortest press {press:.0f} ms", per_set))
        print("best pedal (threshold, shortest press ms):", pedals[0][0])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
