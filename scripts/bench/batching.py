"""Does batching chunks help? Model calls at several batch sizes; files converted one by one or together.

    .venv/bin/python scripts/bench/batching.py --files     # `make bench-batch` (writes docs/benchmarks.md)
    taskset -c 0 .venv/bin/python scripts/bench/batching.py --threads 1 0 --rounds 15   # on one core

Inference: the log-mel of rendered ASAP performances (scripts/bench.py's set, data/bench/) is cut into
CHUNK_FRAMES windows; each round runs every window once per (threads, batch size) setting, the settings in a
rotating order, so a busy moment of the machine falls on all of them alike. Reported per setting: the median
and fastest round, as wall and CPU milliseconds per chunk and as a real-time factor (STEP_FRAMES of audio kept
per chunk). Threads 0 is ONNX Runtime's default (one per core it counts). Files: short clips of the same
renders converted through the CLI's code path one after another (convert_file) and all together
(convert_files, chunks batched across files), alternating, the fastest of --repeat passes each.
"""

import argparse
import contextlib
import io
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from runtime import ROOT, bench_script  # noqa: E402  (scripts/bench/runtime.py, beside this file)

SECTION = "## Batching"
BATCHES = (1, 2, 4, 8, 16)


@dataclass
class Setting:
    threads: int  # ONNX Runtime intra-op threads; 0: its default
    batch: int  # chunks per model call
    wall_s: list[float] = field(default_factory=list)  # per round, all chunks
    cpu_s: list[float] = field(default_factory=list)


def chunks_of(mels: list[np.ndarray], count: int) -> np.ndarray:
    """(count, CHUNK_FRAMES, N_MELS): consecutive windows of the log-mels, as the model sees them."""
    from piano_ai.inference import CHUNK_FRAMES

    joined = np.concatenate(mels)
    if len(joined) < count * CHUNK_FRAMES:
        raise SystemExit(f"--minutes gives {len(joined) // CHUNK_FRAMES} chunks; {count} asked")
    return joined[: count * CHUNK_FRAMES].reshape(count, CHUNK_FRAMES, -1).astype(np.float32)


def run_function(threads: int):  # noqa: ANN201  (piano_ai.runtimes.RunFn)
    """ONNX Runtime on the shipped model, ``threads`` intra-op threads (runtimes reads OMP_NUM_THREADS)."""
    from piano_ai.inference import DEFAULT_MODEL_DIR
    from piano_ai.model import ModelConfig
    from piano_ai.runtimes import runner

    saved = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = str(threads)
    try:
        return runner("onnx", DEFAULT_MODEL_DIR, ModelConfig.load(DEFAULT_MODEL_DIR / "config.json"))
    finally:
        os.environ.pop("OMP_NUM_THREADS") if saved is None else os.environ.update(OMP_NUM_THREADS=saved)


def sweep(chunks: np.ndarray, threads: list[int], batches: list[int], rounds: int) -> list[Setting]:
    """Every (threads, batch) setting over all ``chunks``, ``rounds`` times, in a rotating order."""
    runs = {t: run_function(t) for t in threads}
    for run in runs.values():  # first-call allocations, for every shape used
        for batch in batches:
            run(chunks[:batch])
    settings = [Setting(t, b) for t in threads for b in batches]
    for round_ in range(rounds):
        shift = round_ % len(settings)
        for setting in settings[shift:] + settings[:shift]:
            run = runs[setting.threads]
            wall, cpu = time.perf_counter(), time.process_time()
            for first in range(0, len(chunks), setting.batch):
                run(chunks[first : first + setting.batch])
            setting.wall_s.append(time.perf_counter() - wall)
            setting.cpu_s.append(time.process_time() - cpu)
    return settings


def sweep_table(settings: list[Setting], chunks: int) -> str:
    """Markdown: one row per setting, against batch 8 (BATCH_SIZE) at the same thread count."""
    from piano_ai.constants import SECONDS_PER_FRAME
    from piano_ai.inference import BATCH_SIZE, STEP_FRAMES

    kept_s = chunks * STEP_FRAMES * SECONDS_PER_FRAME
    base = {s.threads: statistics.median(s.wall_s) for s in settings if s.batch == BATCH_SIZE}
    rows = [
        "| threads | batch | wall ms per chunk: median (fastest) | CPU ms per chunk: median | "
        f"real-time factor (median) | speed vs batch {BATCH_SIZE} |",
        "|---|---|---|---|---|---|",
    ]
    for s in settings:
        wall, fastest, cpu = statistics.median(s.wall_s), min(s.wall_s), statistics.median(s.cpu_s)
        ratio = f"{base[s.threads] / wall:.2f}x" if s.threads in base else "-"
        rows.append(
            f"| {s.threads or 'default'} | {s.batch} | {1000 * wall / chunks:.1f}"
            f" ({1000 * fastest / chunks:.1f}) | {1000 * cpu / chunks:.1f} | {kept_s / wall:.0f}x | {ratio} |"
        )
    return "\n".join(rows) + "\n"


def clips(wavs: list[Path], seconds: float, count: int, out_dir: Path) -> list[Path]:
    """``count`` clips of ``seconds`` cut one after another from the renders (cached in out_dir)."""
    import soundfile as sf

    out_dir.mkdir(parents=True, exist_ok=True)
    made: list[Path] = []
    for wav in wavs:
        audio, rate = sf.read(wav, dtype="float32")
        step = int(seconds * rate)
        for start in range(0, len(audio) - step + 1, step):
            if len(made) == count:
                return made
            path = out_dir / f"{wav.stem}_{start // rate}s.wav"
            if not path.is_file():
                sf.write(path, audio[start : start + step], rate)
            made.append(path)
    return made


def convert_passes(files: list[Path], at_once: list[int], passes: int) -> dict[int, list[float]]:
    """Wall seconds of `piano-ai convert`'s loop over ``files`` at each files-at-once, alternating."""
    from piano_ai.commands.convert_all import convert_all
    from piano_ai.inference import load_transcriber
    from piano_ai.types import NoteParams

    model, params = load_transcriber(), NoteParams().validate()
    walls: dict[int, list[float]] = {n: [] for n in at_once}
    with tempfile.TemporaryDirectory() as out, contextlib.redirect_stdout(io.StringIO()):
        convert_all(files[:1], model, params, Path(out), ("mid",), quiet=True)  # warm-up
        for _ in range(passes):
            for n in at_once:
                started = time.perf_counter()
                failed = convert_all(files, model, params, Path(out), ("mid",), True, files_at_once=n)
                walls[n].append(time.perf_counter() - started)
                assert not failed
    return walls


def files_table(sets: dict[str, list[Path]], walls: dict[str, dict[int, list[float]]]) -> str:
    """Markdown: one row per (set of files, files at once), against one file at a time."""
    import soundfile as sf

    rows = [
        "| files | files at once | wall s: median (fastest) | real-time factor (median) | vs one at a time |",
        "|---|---|---|---|---|",
    ]
    for name, files in sets.items():
        audio_s = sum(sf.info(str(f)).duration for f in files)
        base = statistics.median(walls[name][1])
        for n, passes in walls[name].items():
            wall = statistics.median(passes)
            cells = [name, str(n), f"{wall:.2f} ({min(passes):.2f})", f"{audio_s / wall:.0f}x"]
            rows.append("| " + " | ".join([*cells, f"{base / wall:.2f}x"]) + " |")
    return "\n".join(rows) + "\n"


def context() -> str:
    cores = len(os.sched_getaffinity(0))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, this process on {cores} of them"
        f" (sched_getaffinity), load average {load} at the start"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="rendered audio to cut chunks from")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data" / "bench", help="rendered audio cache")
    parser.add_argument("--chunks", type=int, default=16, help="chunks per round (a multiple of 16)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 0], help="0: ONNX Runtime's default")
    parser.add_argument("--batches", type=int, nargs="+", default=list(BATCHES))
    parser.add_argument("--rounds", type=int, default=15, help="rounds over every setting")
    parser.add_argument("--write-docs", type=Path, metavar="MD", help="also update this file's section")
    parser.add_argument("--files", action="store_true", help="also convert files one at a time and together")
    parser.add_argument("--at-once", type=int, nargs="+", default=[1, 8], help="files at once (1 first)")
    parser.add_argument("--passes", type=int, default=3, help="passes per files-at-once in the files part")
    args = parser.parse_args(argv)

    from piano_ai.audio import decode
    from piano_ai.features import log_mel

    bench = bench_script()
    wavs = bench.render(bench.pick_performances(bench.ASAP_DIR, args.minutes), bench.ASAP_DIR, args.data_dir)
    where = context()
    chunks = chunks_of([log_mel(decode(path)) for path in wavs], args.chunks)
    settings = sweep(chunks, args.threads, args.batches, args.rounds) if args.rounds else []
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = (
        f"Measured {now} with `{' '.join(['scripts/bench/batching.py', *(argv or sys.argv[1:])])}`: "
        f"{args.chunks} chunks of rendered ASAP performances per round, {args.rounds} rounds, ONNX Runtime "
        f"(float32, the shipped model). Machine: {where}.\n\n"
    )
    if settings:
        text += sweep_table(settings, args.chunks)
    if args.files:
        sets = {
            "24 clips of 10 s": clips(wavs, 10, 24, args.data_dir / "clips10"),
            "8 clips of 60 s": clips(wavs, 60, 8, args.data_dir / "clips60"),
            f"{len(wavs)} whole performances": wavs,
        }
        walls = {name: convert_passes(files, args.at_once, args.passes) for name, files in sets.items()}
        text += (
            f"\n`piano-ai convert`'s loop (convert_all: decode, features, model, notes, MIDI), "
            f"default threads, {args.passes} passes alternating:\n\n{files_table(sets, walls)}"
        )
    print(text)
    if args.write_docs:
        bench.write_section(args.write_docs, f"{SECTION}\n\n{text}", SECTION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
