"""Accuracy against Basic Pitch and Transkun V2 on a dataset's validation split (`make bench-accuracy`).

    .venv/bin/python scripts/bench/accuracy.py --dataset data/rendered/v1 [--limit N] [--model DIR ...]
        [--peers basic-pitch transkun]

1. Writes the dataset's validation clips as audio + reference MIDI into --eval-dir (default
   data/eval/<dataset name>) unless they are there already (piano_ai.evaluation.evalset).
2. Runs Basic Pitch once per file over its threshold grid in its own environment (.venv-bp, see
   setup_basic_pitch.sh) through basic_pitch_predict.py, unless its predictions are there already.
   Transkun V2 too when .venv-transkun exists (setup_transkun.sh) or --peers names it: transkun_predict.py
   runs it once per file, cached by the audio's content, and its notes are extended by its own sustain
   pedal (CC64) before they meet the pedal-extended reference.
3. Scores our shipped model (and any --model) at a few onset thresholds, and every Basic Pitch setting,
   and Transkun, with the same mir_eval code (piano_ai.evaluation), and picks Basic Pitch's best setting by
   note-weighted onset F1.
4. Prints the table, replaces the "## Accuracy vs Basic Pitch" section of docs/benchmarks.md and writes
   every number (per file too) to docs/results/accuracy.json.
"""

import argparse
import json
import logging
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from accuracy_report import Row, markdown_section, replace_section
from peers import BP_DEFAULT, BP_VERSION, PEERS, TK_VERSION, PeerResults, default_peers, run_peers
from threshold_grid import Setting, best_setting, grid, on_edge, parse_setting

from piano_ai.types import NoteParams

ROOT = Path(__file__).resolve().parent.parent.parent
OUR_ONSET_THRESHOLDS = (0.5, 0.6, 0.7, 0.8)
OUR_DEFAULT_ONSET = NoteParams().onset_threshold  # the shipped default, always scored
EVAL_STAMP = "dataset-build.json"  # in the eval folder: which build of the dataset its clips come from

log = logging.getLogger("bench.accuracy")


def ensure_eval_set(dataset: str, eval_dir: Path, limit: int) -> list[Path]:
    """The eval set's audio files (first ``limit`` when > 0), rendering them when any is missing.

    A stamp file records which build of the dataset the clips came from; a folder rendered from another
    build (the dataset was rebuilt) is an error rather than a silent mix of old and new clips.
    """
    from piano_ai.evaluation.evaluate import pairs
    from piano_ai.training.dataset import load_manifest

    manifest = load_manifest(dataset)
    build = {"dataset": Path(dataset).name, "seed": manifest.get("seed"), "created": manifest.get("created")}
    stamp = eval_dir / EVAL_STAMP
    if stamp.exists() and json.loads(stamp.read_text()) != build:
        raise SystemExit(
            f"{eval_dir} was rendered from another build of {dataset} ({stamp.read_text().strip()}); "
            f"delete it and {eval_dir.name}-basic-pitch beside it, then run again"
        )
    expected = sum(1 for s in manifest["shards"] if s["split"] == "val")
    expected = min(expected, limit) if limit else expected
    if not eval_dir.is_dir() or len(pairs(eval_dir)) < expected:
        from piano_ai.evaluation.evalset import write_eval_set

        log.info("rendering %d validation clips of %s into %s", expected, dataset, eval_dir)
        write_eval_set(dataset, eval_dir, limit)
    stamp.write_text(json.dumps(build) + "\n")
    return [audio for audio, _ in pairs(eval_dir)[:expected]]


def score_ours(
    eval_dir: Path, model_dir: str | None, limit: int, onset_thresholds: tuple[float, ...]
) -> tuple[str, dict, dict]:
    """Our model at each of ``onset_thresholds`` (plus the default); the model runs once per file.

    Returns (model label, {onset threshold: Report}, speed: audio s / wall s at the default thresholds).
    """
    from piano_ai.audio import decode
    from piano_ai.constants import SAMPLE_RATE
    from piano_ai.evaluation.evaluate import evaluate, scored
    from piano_ai.features import log_mel
    from piano_ai.inference import DEFAULT_MODEL_DIR, load_transcriber
    from piano_ai.note_nets import nets_for
    from piano_ai.transcribe import decode_activations
    from piano_ai.types import NoteParams

    t0 = time.perf_counter()
    model = load_transcriber(model_dir)
    nets = nets_for(model.model_dir)
    load_s = time.perf_counter() - t0
    model.predict(log_mel(silence()))  # first-call warm-up, not timed (as in scripts/bench.py)
    cache, timing = {}, {"audio_s": 0.0, "model_s": 0.0, "notes_s": 0.0, "model_load_s": load_s}

    def estimator(threshold: float):  # noqa: ANN202
        params = NoteParams(onset_threshold=threshold).validate()

        def estimate(path: Path) -> list:
            if path not in cache:
                t0 = time.perf_counter()
                audio = decode(path)
                cache[path] = model.predict(log_mel(audio))
                timing["model_s"] += time.perf_counter() - t0
                timing["audio_s"] += len(audio) / SAMPLE_RATE
            t0 = time.perf_counter()
            # as `piano-ai evaluate` scores it: the model's networks, notes extended by its own pedal
            result = decode_activations(cache[path], params, nets)
            if threshold == OUR_DEFAULT_ONSET:
                timing["notes_s"] += time.perf_counter() - t0
            return scored(result)

        return estimate

    # the default first, so its note-creation time is measured on every file
    thresholds = sorted({OUR_DEFAULT_ONSET, *onset_thresholds}, key=lambda t: t != OUR_DEFAULT_ONSET)
    reports = {t: evaluate(eval_dir, estimator(t), limit=limit) for t in thresholds}
    timing["realtime_factor"] = timing["audio_s"] / (timing["model_s"] + timing["notes_s"])
    shipped = model.model_dir.resolve() == DEFAULT_MODEL_DIR.resolve()
    label = "piano-ai (shipped model)" if shipped else f"piano-ai ({model.model_dir})"
    return label, dict(sorted(reports.items())), timing


def silence():  # noqa: ANN201 - 2 s of float32 silence at SAMPLE_RATE
    import numpy as np

    from piano_ai.constants import SAMPLE_RATE

    return np.zeros(2 * SAMPLE_RATE, np.float32)


def build_rows(
    ours: list[tuple[str, dict]], our_speed: dict, peers: PeerResults
) -> tuple[list[Row], Setting | None]:
    """Table rows: each model at each onset threshold, Basic Pitch at its defaults and best, then Transkun.

    Each row carries the wall seconds per file of one conversion (model and notes at the default settings;
    model load and warm-up excluded); Basic Pitch's best row shows its default setting's time.
    """
    rows = []
    for label, reports in ours:
        best = max(reports, key=lambda t: reports[t].summary()["onset"]["f1"])
        timing = our_speed.get(label, {})
        for t, report in reports.items():
            notes = ["default"] * (t == OUR_DEFAULT_ONSET) + ["best"] * (t == best)
            per_file = (timing["model_s"] + timing["notes_s"]) / len(report.per_file) if timing else None
            rows.append(Row(f"{label}, onset threshold {t:g}", report, ", ".join(notes), per_file))
    bp_best = None
    if peers.bp:
        bp_best = parse_setting(best_setting({s.name: r.summary() for s, r in peers.bp.items()}))
        speed = peers.bp_speed or {}
        per_file = (
            (speed["inference_s"] + speed["note_creation_default_s"]) / speed["files"] if speed else None
        )
        shown = [(BP_DEFAULT, "its defaults")] * (BP_DEFAULT in peers.bp) + [(bp_best, "best of the grid")]
        for setting, note in shown:
            rows.append(
                Row(f"Basic Pitch {BP_VERSION}, {setting.describe()}", peers.bp[setting], note, per_file)
            )
    if peers.transkun is not None:
        per_file = peers.transkun_speed["seconds_per_file"] if peers.transkun_speed else None
        label = f"Transkun {TK_VERSION}, notes extended by its own sustain pedal"
        rows.append(Row(label, peers.transkun, "", per_file))
    return rows, bp_best


def results_json(rows: list[Row], peers: PeerResults, bp_best: Setting | None, context: dict) -> dict:
    """Everything measured: the table rows with per-file scores, and Basic Pitch's whole grid."""
    return {
        **context,
        "rows": [
            {
                "system": r.system,
                "note": r.note,
                "seconds_per_file": r.seconds_per_file,
                **json.loads(r.report.to_json()),
            }
            for r in rows
        ],
        "basic_pitch_best": bp_best.name if bp_best else None,
        "basic_pitch_grid": {s.name: r.summary() for s, r in sorted(peers.bp.items())},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True, help="a rendered dataset (its manifest.json's folder)")
    parser.add_argument("--eval-dir", type=Path, help="default: data/eval/<dataset name>")
    parser.add_argument("--model", action="append", default=[], help="also score this model directory")
    parser.add_argument("--limit", type=int, default=0, help="only the first N validation clips")
    parser.add_argument(
        "--onset-thresholds",
        type=float,
        nargs="+",
        default=list(OUR_ONSET_THRESHOLDS),
        help="our model's onset thresholds to score (the shipped default is always scored)",
    )
    parser.add_argument("--rerun-basic-pitch", action="store_true", help="ignore its cached predictions")
    parser.add_argument(
        "--peers",
        nargs="+",
        choices=PEERS,
        default=None,
        help="peers to score (default: basic-pitch, plus transkun when .venv-transkun exists)",
    )
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--json", type=Path, default=ROOT / "docs" / "results" / "accuracy.json")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    parser.add_argument("--remark", default="", help="a sentence added under the table")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    dataset = Path(args.dataset)
    eval_dir = args.eval_dir or ROOT / "data" / "eval" / dataset.name
    audio = ensure_eval_set(str(dataset), eval_dir, args.limit)
    peers = run_peers(eval_dir, audio, args.peers or default_peers(), args.rerun_basic_pitch)
    ours, our_speed = [], {}
    for model_dir in [None, *args.model]:
        label, reports, speed = score_ours(eval_dir, model_dir, len(audio), tuple(args.onset_thresholds))
        ours.append((label, reports))
        our_speed[label] = speed
    rows, best = build_rows(ours, our_speed, peers)
    context = eval_context(dataset, eval_dir, audio, peers, our_speed, args.remark)
    context["basic_pitch_best_on_edge"] = on_edge(best, grid()) if best else []
    section = markdown_section(rows, context)
    print(section)
    if not args.no_write:
        args.docs.parent.mkdir(parents=True, exist_ok=True)
        old = args.docs.read_text() if args.docs.exists() else "# Benchmarks\n"
        args.docs.write_text(replace_section(old, section))
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results_json(rows, peers, best, context), indent=1) + "\n")
        log.info("wrote %s and %s", args.docs, args.json)
    return 0


def eval_context(
    dataset: Path, eval_dir: Path, audio: list[Path], peers: PeerResults, our_speed: dict, remark: str
) -> dict:
    """What the numbers were measured on, for the section's preamble and the JSON."""
    import soundfile as sf

    from piano_ai.training.dataset import load_manifest

    manifest = load_manifest(str(dataset))
    instruments = manifest.get("instruments", {})
    return {
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "dataset": str(dataset),
        "eval_dir": str(eval_dir.relative_to(ROOT) if eval_dir.is_relative_to(ROOT) else eval_dir),
        "n_files": len(audio),
        "audio_s": sum(sf.info(str(a)).duration for a in audio),
        "split_rule": manifest.get("split_rule", ""),
        "val_instruments": instruments.get("val", []),
        "held_out_instruments": sorted(set(instruments.get("val", [])) - set(instruments.get("train", []))),
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores",
        "peers": (["basic-pitch"] if peers.bp else []) + (["transkun"] if peers.transkun is not None else []),
        "basic_pitch_speed": peers.bp_speed,
        "transkun_speed": peers.transkun_speed,
        "our_speed": our_speed,
        "remark": remark,
        "command": "make bench-accuracy DATASET=" + str(dataset),
    }


if __name__ == "__main__":
    sys.exit(main())
