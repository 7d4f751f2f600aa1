"""Pick the post-processing defaults (NoteParams) for a model on an eval folder, by grid search.

    .venv/bin/python scripts/bench/tune_notes.py --eval-dir data/eval/v2 [--model DIR] [--limit N]

The model runs once per file; every grid point re-decodes the cached activations, so the whole grid
(96 points) takes about 20 s for the 20-minute v2 validation set. The best point maximises onset F1 +
offset F1 (both are in issue 3's bar; velocity rides on offset matching). Prints the top rows and the
winner, to be copied into NoteParams' defaults (shared/piano_ai/types.py) when a new model ships.

A model with a pedal head is scored as `piano-ai evaluate` scores it: its notes extended by its own pedal
against pedal-extended truth. After the note grid, the pedal's threshold and shortest press are searched at
the best note setting (copied into shared/piano_ai/pedal.py's PEDAL_THRESHOLD and MIN_PRESS_MS).
"""

import argparse
import itertools
import json
from pathlib import Path

from piano_ai.audio import decode
from piano_ai.evaluation.evaluate import pairs, reference_notes
from piano_ai.evaluation.metrics import Counts, count_matches
from piano_ai.features import log_mel
from piano_ai.inference import load_transcriber
from piano_ai.notes import notes_from_activations
from piano_ai.pedal import MIN_PRESS_MS, PEDAL_THRESHOLD, extend_notes, sustain_intervals
from piano_ai.types import Activations, Note, NoteParams

ONSETS = (0.5, 0.6, 0.7, 0.8)
FRAMES = (0.2, 0.3, 0.4, 0.5)
OFFSETS = (0.7, 0.8, 0.9)
MIN_NOTE_MS = (30.0, 50.0)
PEDAL_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
MIN_PRESS = (50.0, 100.0, 200.0)
Pedal = tuple[float, float]  # (threshold, shortest press ms)


def cached_activations(eval_dir: Path, model: str | None, limit: int) -> list[tuple[Activations, list[Note]]]:
    """(activations, reference notes) for each pair in the folder."""
    transcriber = load_transcriber(model)
    found = pairs(eval_dir)[: limit or None]
    return [(transcriber.predict(log_mel(decode(audio))), reference_notes(midi)) for audio, midi in found]


def f1_scores(
    items: list[tuple[Activations, list[Note]]],
    params: NoteParams,
    pedal: Pedal = (PEDAL_THRESHOLD, MIN_PRESS_MS),
) -> dict[str, float]:
    """Note-weighted F1 of every metric at one setting (a pedal model's notes extended by its pedal)."""
    total = Counts({}, {}, {})
    for act, ref in items:
        notes = notes_from_activations(act, params)
        if act.pedal is not None:
            notes = extend_notes(notes, sustain_intervals(act.pedal, *pedal))
        total = total + count_matches(ref, notes)
    return {metric: round(s["f1"], 4) for metric, s in total.scores().items()}


def score(row: tuple[object, dict[str, float]]) -> float:
    return row[1]["onset"] + row[1]["offset"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=Path("data/eval/v2"))
    parser.add_argument("--model", help="model directory (default: the shipped model)")
    parser.add_argument("--limit", type=int, default=0, help="first N files only")
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args(argv)

    items = cached_activations(args.eval_dir, args.model, args.limit)
    rows = []
    for onset, frame, offset, min_ms in itertools.product(ONSETS, FRAMES, OFFSETS, MIN_NOTE_MS):
        params = NoteParams(onset, frame, offset, min_ms)
        rows.append((params, f1_scores(items, params)))
    rows.sort(key=score, reverse=True)
    shipped = NoteParams()
    print(f"{len(items)} files; current defaults {shipped}: {json.dumps(f1_scores(items, shipped))}")
    for params, scores in rows[: args.top]:
        print(params, json.dumps(scores))
    best = rows[0][0]
    print("best:", best)
    if all(act.pedal is not None for act, _ in items):
        pedals = [(p, f1_scores(items, best, p)) for p in itertools.product(PEDAL_THRESHOLDS, MIN_PRESS)]
        pedals.sort(key=score, reverse=True)
        for (threshold, press), scores in pedals[: args.top]:
            print(f"pedal threshold {threshold}, shortest press {press:.0f} ms", json.dumps(scores))
        print("best pedal (threshold, shortest press ms):", pedals[0][0])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
