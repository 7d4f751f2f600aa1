"""Inference runtimes side by side: in-process real-time factor on >= 10 minutes of audio, and note F1.

    .venv/bin/python scripts/bench/runtime.py   # onnx, onnx-int8 (+ openvino, openvino-bf16 if installed)
    .venv/bin/python scripts/bench/runtime.py --runtimes onnx openvino --eval-dir data/eval/v2
    .venv/bin/python scripts/bench/runtime.py --write-docs docs/benchmarks.md

Speed: the log-mel of scripts/bench.py's rendered set (data/bench/, >= 10 min) is computed once; then each
runtime's Transcriber.predict runs over it, the runtimes alternating pass by pass, the fastest pass of each
counting (model load and a warm-up call excluded). Accuracy, by piano_ai.evaluation (mir_eval, 50 ms onsets):
note F1 on the golden clip against its reference MIDI, and on --eval-dir (default data/eval/v2, written by
`piano-ai evaluate data/eval/v2 --from-dataset data/rendered/v2`) when it exists. A runtime that loses more
than MAX_F1_LOSS onset F1 against onnx (float32) is marked as not holding accuracy. --pause PID stops another
process (a training run on the same cores) during the timed passes only, and always resumes it.
"""

import argparse
import importlib.util
import os
import platform
import signal
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Inference runtimes"
GOLDEN = ROOT / "tests" / "data" / "golden"
EVAL_DIR = ROOT / "data" / "eval" / "v2"
MAX_F1_LOSS = 0.005  # onset F1 a runtime may lose against float32 ONNX Runtime and still be served


@dataclass
class Result:
    runtime: str
    load_s: float = 0.0
    passes_s: list[float] = field(default_factory=list)  # inference wall seconds per pass over the set
    f1: dict[str, float] = field(default_factory=dict)  # evaluation set -> onset F1
    frame_f1: dict[str, float] = field(default_factory=dict)


def bench_script() -> ModuleType:
    """scripts/bench.py (its renderer), loaded by path: scripts/bench/ is a folder of the same name."""
    spec = importlib.util.spec_from_file_location("bench_script", ROOT / "scripts" / "bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def speed(results: list[Result], models: dict, mels: list, passes: int) -> None:
    """Alternate the runtimes over the log-mels ``passes`` times; record each pass's inference seconds."""
    for _ in range(passes):
        for result in results:
            model = models[result.runtime]
            started = time.perf_counter()
            for mel in mels:
                model.predict(mel)
            result.passes_s.append(time.perf_counter() - started)


def accuracy(results: list[Result], models: dict, sets: dict[str, Path]) -> None:
    """Onset and frame F1 of every runtime on every evaluation folder (<stem>.<audio> + <stem>.mid)."""
    from piano_ai.evaluation.evaluate import evaluate, model_estimator

    for name, folder in sets.items():
        for result in results:
            summary = evaluate(folder, model_estimator(models[result.runtime])).summary()
            result.f1[name], result.frame_f1[name] = summary["onset"]["f1"], summary["frame"]["f1"]


def table(results: list[Result], audio_s: float, sets: list[str]) -> str:
    """Markdown: one row per runtime."""
    base = results[0]
    head = "| runtime | load s | inference s (fastest pass) | real-time factor | vs onnx |"
    head += "".join(f" {name}: onset / frame F1 |" for name in sets)
    rows = [head, "|" + "---|" * (5 + len(sets))]
    for r in results:
        best = min(r.passes_s)
        cells = [r.runtime, f"{r.load_s:.2f}", f"{best:.2f}", f"{audio_s / best:.0f}x"]
        cells.append(f"{min(base.passes_s) / best:.2f}x")
        for name in sets:
            loss = base.f1[name] - r.f1[name]
            mark = " (loses too much)" if loss > MAX_F1_LOSS else ""
            cells.append(f"{r.f1[name]:.4f} / {r.frame_f1[name]:.4f}{mark}")
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def write_section(doc: Path, section: str) -> None:
    """Replace this benchmark's SECTION of ``doc`` (or append it), with scripts/bench.py's writer."""
    bench_script().write_section(doc, section, SECTION)


def default_runtimes() -> list[str]:
    """onnx first (the baseline), onnx-int8, and openvino (float32 and bf16) where it is installed."""
    found = importlib.util.find_spec("openvino") is not None
    return ["onnx", "onnx-int8", *(["openvino", "openvino-bf16"] if found else [])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runtimes", nargs="+", help="runtimes to compare, onnx first (default: all installed)"
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="audio for the speed test, at least")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data" / "bench", help="rendered audio cache")
    parser.add_argument("--passes", type=int, default=5, help="speed passes per runtime; the fastest counts")
    parser.add_argument(
        "--eval-dir", type=Path, default=EVAL_DIR, help="audio + MIDI pairs (skipped if absent)"
    )
    parser.add_argument("--pause", type=int, metavar="PID", help="SIGSTOP it during the timed passes")
    parser.add_argument("--write-docs", type=Path, metavar="MD", help="also update this file's section")
    args = parser.parse_args(argv)

    from piano_ai.audio import decode
    from piano_ai.constants import SECONDS_PER_FRAME
    from piano_ai.features import log_mel
    from piano_ai.inference import load_transcriber

    runtimes = args.runtimes or default_runtimes()
    bench = bench_script()
    wavs = bench.render(bench.pick_performances(bench.ASAP_DIR, args.minutes), bench.ASAP_DIR, args.data_dir)
    mels = [log_mel(decode(path)) for path in wavs]
    audio_s = sum(len(mel) for mel in mels) * SECONDS_PER_FRAME
    load = os.getloadavg()
    results, models = [], {}
    for runtime in runtimes:
        started = time.perf_counter()
        models[runtime] = load_transcriber(runtime=runtime)
        results.append(Result(runtime, load_s=time.perf_counter() - started))
        models[runtime].predict(mels[0][:1000])  # warm-up: first-call allocations
    if args.pause:
        os.kill(args.pause, signal.SIGSTOP)
    try:
        speed(results, models, mels, args.passes)
    finally:
        if args.pause:
            os.kill(args.pause, signal.SIGCONT)
    sets = {"golden clip": GOLDEN} | ({"v2 eval": args.eval_dir} if args.eval_dir.is_dir() else {})
    accuracy(results, models, sets)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    paused = f" (process {args.pause} paused during the timed passes)" if args.pause else ""
    shown = {k: v.relative_to(ROOT) if v.is_relative_to(ROOT) else v for k, v in sets.items()}
    folders = ", ".join(f"{k}: {v}" for k, v in shown.items())
    context = (
        f"Measured {now} with `make bench-runtime` (scripts/bench/runtime.py): {len(wavs)} files, "
        f"{audio_s / 60:.1f} min of audio, log-mel computed once; inference only (Transcriber.predict, "
        f"chunks of 512 frames in batches), runtimes alternating, the fastest of {args.passes} passes. "
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, load average "
        f"{load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f} at the start{paused}. F1: onset (50 ms) and frame, "
        f"note-weighted, default thresholds; {folders}."
    )
    section = f"{SECTION}\n\n{context}\n\n{table(results, audio_s, list(sets))}"
    print(section)
    if args.write_docs:
        write_section(args.write_docs, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
