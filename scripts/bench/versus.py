"""`make bench BENCH_ARGS=--versus-basic-pitch`: piano-ai and Basic Pitch on the same files in one run.

Each round runs, alternating: `piano-ai convert FILES` and `basic-pitch OUT FILES` as whole processes
(start-up, imports, model load, every file decoded, transcribed and written as MIDI: what a user waits
for), then each in-process (model loaded and warmed up first, not counted: what a long-running worker
sees). Peak RSS is each whole process's own (wait4). The fastest of the rounds counts (other work only
ever slows a run down). Basic Pitch runs its ONNX model in its own environment (.venv-bp, made by
scripts/bench/setup_basic_pitch.sh) at its default thresholds; piano-ai its shipped model at its defaults.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
BP_PYTHON = ROOT / ".venv-bp" / "bin" / "python"
BP_CLI = ROOT / ".venv-bp" / "bin" / "basic-pitch"
BP_PREDICT = ROOT / "scripts" / "bench" / "basic_pitch_predict.py"
SECTION = "## Side by side with Basic Pitch"


@dataclass
class Side:
    """One system's best figures over the rounds."""

    whole_s: float = float("inf")  # wall seconds of the whole process
    inprocess_s: float = float("inf")  # wall seconds of the conversions, model loaded and warmed up
    peak_rss_mb: float = 0.0  # the whole process's peak resident memory


def timed_process(command: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of ``command`` run to completion; raises when it fails."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(
            f"{command[0]} failed: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}"
        )
    return wall, usage.ru_maxrss / 1024  # Linux: KiB


def piano_ai_whole(files: list[Path], out: Path) -> tuple[float, float]:
    cli = Path(sys.executable).parent / "piano-ai"
    return timed_process([str(cli), "convert", *map(str, files), "-o", str(out), "-q"])


def basic_pitch_whole(files: list[Path], out: Path) -> tuple[float, float]:
    out.mkdir(parents=True, exist_ok=True)
    return timed_process([str(BP_CLI), str(out), *map(str, files), "--model-serialization", "onnx"])


def basic_pitch_inprocess(folder: Path, out: Path) -> float:
    """Decode + model + note creation at its defaults + MIDI in its process (load, warm-up not counted)."""
    command = [str(BP_PYTHON), str(BP_PREDICT), str(folder), "--out", str(out), "--default-only"]
    subprocess.run(command, check=True, capture_output=True)
    speed = json.loads((out / "speed.json").read_text())
    return float(speed["inference_s"] + speed["note_creation_default_s"])


def compare(
    files: list[Path], rounds: int, piano_ai_inprocess: Callable[[list[Path]], float]
) -> tuple[Side, Side]:
    """Alternate the four runs ``rounds`` times; returns (piano-ai, Basic Pitch). ``piano_ai_inprocess``
    converts the files in this process and returns the seconds (load and warm-up not counted)."""
    if not BP_CLI.exists():
        raise SystemExit("no .venv-bp: run `bash scripts/bench/setup_basic_pitch.sh` first")
    ours, theirs = Side(), Side()
    with tempfile.TemporaryDirectory(prefix="versus-") as tmp_name:
        tmp = Path(tmp_name)
        folder = tmp / "in"  # the files alone, for the folder-based Basic Pitch runner
        folder.mkdir()
        for path in files:
            (folder / path.name).symlink_to(path.resolve())
        for n in range(rounds):
            print(f"round {n + 1}/{rounds}", file=sys.stderr, flush=True)
            wall, rss = piano_ai_whole(files, tmp / f"pa{n}")
            ours.whole_s, ours.peak_rss_mb = min(ours.whole_s, wall), max(ours.peak_rss_mb, rss)
            wall, rss = basic_pitch_whole(files, tmp / f"bp{n}")
            theirs.whole_s, theirs.peak_rss_mb = min(theirs.whole_s, wall), max(theirs.peak_rss_mb, rss)
            ours.inprocess_s = min(ours.inprocess_s, piano_ai_inprocess(files))
            theirs.inprocess_s = min(theirs.inprocess_s, basic_pitch_inprocess(folder, tmp / f"bpi{n}"))
    return ours, theirs


def markdown(
    ours: Side, theirs: Side, audio_s: float, files: int, fmt: str, rounds: int, context: str
) -> str:
    """The docs section: both systems, real-time factors and the ratio."""

    def row(name: str, ours_value: float, theirs_value: float, unit: str, higher_wins: bool) -> str:
        ratio = ours_value / theirs_value if higher_wins else theirs_value / ours_value
        return f"| {name} | {ours_value:.1f}{unit} | {theirs_value:.1f}{unit} | **{ratio:.2f}x** |"

    return "\n".join(
        [
            SECTION,
            "",
            f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with",
            "`make bench BENCH_ARGS=--versus-basic-pitch`"
            f" (scripts/bench/versus.py): {files} ASAP performances,",
            f"{audio_s / 60:.1f} min of audio ({fmt}), "
            "both systems on the same files in the same run, alternating; the fastest of "
            f"{rounds} rounds. Machine: {context}.",
            "Whole process: `piano-ai convert FILES -o DIR` against `basic-pitch DIR FILES` (ONNX), start-up",
            "and model load included. In-process: decode, model, notes and MIDI of every file with the model",
            "loaded and warmed up (not counted). Basic Pitch 0.4.0 at its default thresholds; piano-ai's",
            "shipped model at its defaults. The last column is piano-ai's advantage (speed, or memory",
            "saved).",
            "",
            "| measure | piano-ai | Basic Pitch | piano-ai vs Basic Pitch |",
            "|---|---|---|---|",
            row("whole process, wall seconds", ours.whole_s, theirs.whole_s, " s", False),
            row(
                "whole process, real-time factor", audio_s / ours.whole_s, audio_s / theirs.whole_s, "x", True
            ),
            row("in-process, wall seconds", ours.inprocess_s, theirs.inprocess_s, " s", False),
            row(
                "in-process, real-time factor",
                audio_s / ours.inprocess_s,
                audio_s / theirs.inprocess_s,
                "x",
                True,
            ),
            row("peak RSS of the whole process", ours.peak_rss_mb, theirs.peak_rss_mb, " MB", False),
            "",
        ]
    )
