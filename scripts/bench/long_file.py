"""Long recordings: wall time and peak RSS of `piano-ai convert` on a 1-hour and a 3-hour FLAC.

    .venv/bin/python scripts/bench/long_file.py                       # 1 h and 3 h, text report
    .venv/bin/python scripts/bench/long_file.py --hours 1 --label before --pythonpath /tmp/old/shared
    .venv/bin/python scripts/bench/long_file.py --write-docs docs/benchmarks.md

Renders about ten minutes of ASAP performances with FluidSynth (scripts/bench.py's cache, data/bench/), joins
them end to end into data/bench/long/<hours>h.flac (44.1 kHz stereo, what an upload looks like; built once,
git-ignored) and runs `python -m piano_ai.cli convert` on each in a fresh process: the wall time is the whole
process (start-up and model load included), the peak RSS the child's (wait4's ru_maxrss). --pythonpath puts
another checkout's package first, to measure the code before a change with the same files.
"""

import argparse
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Long recordings"
SOURCE_MINUTES = 10.0  # rendered audio looped to the target length
OUTPUT_RATE_HZ = 44_100
OUTPUT_CHANNELS = 2


@dataclass
class Run:
    label: str
    hours: float
    audio_s: float
    wall_s: float
    peak_rss_mb: float
    notes: int


def bench_script() -> ModuleType:
    """scripts/bench.py (its renderer), loaded by path: scripts/bench/ is a folder of the same name."""
    spec = importlib.util.spec_from_file_location("bench_script", ROOT / "scripts" / "bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_long_file(hours: float, data_dir: Path, asap_dir: Path) -> Path:
    """data_dir/long/<hours>h.flac: the ~10 min of renders repeated end to end until ``hours`` long."""
    target = data_dir / "long" / f"{hours:g}h.flac"
    if target.is_file():
        return target
    bench = bench_script()
    wavs = bench.render(bench.pick_performances(asap_dir, SOURCE_MINUTES), asap_dir, data_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", dir=target.parent, delete=False) as listing:
        for wav in wavs:
            listing.write(f"file '{wav.resolve()}'\n")
    partial = target.with_suffix(".part.flac")
    command = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-stream_loop", "-1", "-f", "concat", "-safe", "0",
               "-i", listing.name, "-t", f"{hours * 3600:g}", "-ar", str(OUTPUT_RATE_HZ),
               "-ac", str(OUTPUT_CHANNELS), str(partial)]  # fmt: skip
    try:
        subprocess.run(command, check=True, capture_output=True)
    finally:
        os.unlink(listing.name)
    partial.rename(target)
    return target


def convert(path: Path, label: str, hours: float, pythonpath: str | None) -> Run:
    """One `piano-ai convert` in a fresh process: (wall seconds, peak RSS of that process)."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [pythonpath, env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory() as out_dir:
        command = [sys.executable, "-m", "piano_ai.cli", "convert", str(path), "--out-dir", out_dir, "-q"]
        started = time.perf_counter()
        child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(child.pid, 0)
        wall_s = time.perf_counter() - started
        stdout, stderr = child.stdout.read().decode(), child.stderr.read().decode()  # type: ignore[union-attr]
        child.stdout.close()  # type: ignore[union-attr]
        child.stderr.close()  # type: ignore[union-attr]
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"convert {path} failed: {stderr.strip()[-2000:]}")
    match = re.search(r"\((\d+) notes, ([\d.]+) s\)", stdout)
    notes, audio_s = (int(match.group(1)), float(match.group(2))) if match else (0, 0.0)
    return Run(label, hours, audio_s, wall_s, usage.ru_maxrss / 1024, notes)  # Linux: ru_maxrss in KiB


def text(runs: list[Run]) -> str:
    lines = [
        f"{'code':<10} {'length':>7} {'audio s':>9} {'wall s':>8} {'x real time':>12} {'peak RSS':>10} notes"
    ]
    for run in runs:
        speed = run.audio_s / run.wall_s if run.wall_s else 0.0
        lines.append(
            f"{run.label:<10} {run.hours:>6g}h {run.audio_s:>9.0f} {run.wall_s:>8.1f} {speed:>11.0f}x "
            f"{run.peak_rss_mb:>7.0f} MB {run.notes}"
        )
    return "\n".join(lines)


def markdown(runs: list[Run], note: str = "") -> str:
    today = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    cores = len(os.sched_getaffinity(0))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    rows = [
        SECTION,
        "",
        f"Measured {today} with `make bench-long` (scripts/bench/long_file.py): ~10 min of ASAP performances",
        "rendered by FluidSynth, looped into one 44.1 kHz stereo FLAC of each length, converted by",
        "`piano-ai convert` in a fresh process (wall time includes start-up and model load; peak RSS is the",
        f"process's). Machine: {cores} cores, load average {load} at the end (other work shared them).",
        "",
        "| code | length | wall time | real-time factor | peak RSS | notes |",
        "|---|---|---|---|---|---|",
    ]
    for run in runs:
        speed = run.audio_s / run.wall_s if run.wall_s else 0.0
        rows.append(
            f"| {run.label} | {run.hours:g} h | {run.wall_s:.1f} s | {speed:.0f}x | {run.peak_rss_mb:.0f} MB "
            f"| {run.notes} |"
        )
    if note:
        rows += ["", note]
    return "\n".join(rows) + "\n"


def write_section(doc: Path, section: str) -> None:
    """Replace this benchmark's SECTION of ``doc`` (or append it), with scripts/bench.py's writer."""
    bench_script().write_section(doc, section, SECTION)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, nargs="+", default=[1.0, 3.0], help="lengths (default 1 3)")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data" / "bench", help="audio cache")
    parser.add_argument(
        "--asap-dir", type=Path, default=Path("/work/shared/training-data/performance-midi/asap")
    )
    parser.add_argument("--label", default="this tree", help="the code's name in the table")
    parser.add_argument("--pythonpath", help="put another checkout's package first (e.g. the code before)")
    parser.add_argument("--markdown", action="store_true", help="print the docs table instead of text")
    parser.add_argument("--note", default="", help="a paragraph to add under the table")
    parser.add_argument("--write-docs", type=Path, metavar="MD", help="also update this file's section")
    args = parser.parse_args(argv)

    runs = []
    for hours in args.hours:
        path = build_long_file(hours, args.data_dir, args.asap_dir)
        runs.append(convert(path, args.label, hours, args.pythonpath))
        print(text(runs[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
    print(markdown(runs, args.note) if args.markdown else text(runs))
    if args.write_docs:
        write_section(args.write_docs, markdown(runs, args.note))
        print(f"wrote {args.write_docs}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
