"""Conversion speed: `piano-ai convert`'s code path over >= 10 minutes of rendered piano.

Renders real performances (ASAP performance MIDI) with FluidSynth into data/bench/ (cached, git-ignored),
loads the model once (timed apart), converts every file with piano_ai.commands.convert.convert_file, and
reports the real-time factor (audio seconds per wall second), time per stage and peak RSS. Then the same
files as one `piano-ai convert FILES` converts them (commands/convert_all.py: several files at once, the
model's calls one thread each): a second real-time factor, with its own CPU time and peak RSS.

    .venv/bin/python scripts/bench.py                      # text report
    .venv/bin/python scripts/bench.py --markdown           # the docs/benchmarks.md table
    .venv/bin/python scripts/bench.py --write-docs docs/benchmarks.md
    .venv/bin/python scripts/bench.py --versus-basic-pitch --minutes 5   # scripts/bench/versus.py
"""

import argparse
import os
import platform
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from piano_ai.runtimes import RUNTIMES

if TYPE_CHECKING:
    from piano_ai.inference import Transcriber
    from piano_ai.types import NoteParams

ROOT = Path(__file__).resolve().parent.parent
ASAP_DIR = Path("/work/shared/training-data/performance-midi/asap")
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
MAX_PIECE_S = 300.0  # longer performances are skipped so the set spans several pieces and composers
STAGES = ("decoding", "features", "inference", "postprocessing", "writing")
# A conversion streams: blocks are decoded (in a thread), turned into log-mel and run through the model as
# they arrive, so those three stages are timed as one, under "inference" (decoding and features read ~0).
STREAMED = "decoding + features + inference (streamed)"


def stage_rows(report: "Report") -> list[tuple[str, float]]:
    """(label, seconds) per stage; the streamed stages as one row when decoding and features took no time
    of their own."""
    seconds = {stage: report.stage_s.get(stage, 0.0) for stage in STAGES}
    if seconds["decoding"] + seconds["features"] < 0.01 * max(report.wall_s, 1e-9):
        inference = seconds.pop("inference") + seconds.pop("decoding") + seconds.pop("features")
        return [(STREAMED, inference), *seconds.items()]
    return list(seconds.items())


SECTION = "## Conversion speed"


@dataclass
class Report:
    files: int = 0
    audio_s: float = 0.0
    wall_s: float = 0.0
    cpu_s: float = 0.0  # user + system CPU time of this process over the same span (all threads)
    load_s: float = 0.0
    warmup_s: float = 0.0
    passes: int = 1
    audio_format: str = "16 kHz wav"
    notes: int = 0
    stage_s: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    peak_rss_mb: float = 0.0
    files_at_once: int = 1  # the set pass: files converted at once, as `piano-ai convert FILES` does
    set_wall_s: float = 0.0
    set_cpu_s: float = 0.0
    set_peak_rss_mb: float = 0.0
    runtime: str = ""
    model_dir: str = ""
    context: str = ""

    @property
    def realtime_factor(self) -> float:
        return self.audio_s / self.wall_s if self.wall_s else 0.0

    @property
    def set_realtime_factor(self) -> float:
        return self.audio_s / self.set_wall_s if self.set_wall_s else 0.0


def pick_performances(asap_dir: Path, minutes: float, seed: int = 0) -> list[Path]:
    """Performance MIDI files, round-robin over composers, until they add up to ``minutes``."""
    import pretty_midi

    by_composer: dict[str, list[Path]] = {}
    from piano_ai.data.plan import asap_performances

    for path in asap_performances(asap_dir):
        by_composer.setdefault(path.relative_to(asap_dir).parts[0], []).append(path)
    rng = random.Random(seed)
    for paths in by_composer.values():
        rng.shuffle(paths)
    chosen: list[Path] = []
    total = 0.0
    while total < minutes * 60 and any(by_composer.values()):
        for paths in by_composer.values():
            while paths and total < minutes * 60:
                path = paths.pop()
                length = pretty_midi.PrettyMIDI(str(path)).get_end_time()
                if 10.0 < length <= MAX_PIECE_S:
                    chosen.append(path)
                    total += length
                    break
    return chosen


def render(midi_paths: list[Path], asap_dir: Path, out_dir: Path) -> list[Path]:
    """Render each MIDI file to out_dir/<composer>_<piece>_<stem>.wav at 16 kHz (skipped if already there)."""
    from piano_ai.constants import SAMPLE_RATE

    out_dir.mkdir(parents=True, exist_ok=True)
    wavs = []
    for midi in midi_paths:
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", "_".join(midi.relative_to(asap_dir).with_suffix("").parts))
        wav = out_dir / f"{name}.wav"
        if not wav.is_file():
            command = ["fluidsynth", "-ni", "-q", "-F", str(wav), "-r", str(SAMPLE_RATE), str(SOUNDFONT)]
            subprocess.run([*command, str(midi)], check=True, capture_output=True)
        wavs.append(wav)
    return wavs


def encode(wavs: list[Path], fmt: str, out_dir: Path) -> list[Path]:
    """Re-encode the renders as 44.1 kHz stereo ``fmt`` (what uploads look like), cached in out_dir/fmt/."""
    folder = out_dir / fmt
    folder.mkdir(parents=True, exist_ok=True)
    encoded = []
    for wav in wavs:
        target = folder / f"{wav.stem}.{fmt}"
        if not target.is_file():
            command = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(wav), "-ar", "44100", "-ac", "2"]
            subprocess.run([*command, str(target)], check=True, capture_output=True)
        encoded.append(target)
    return encoded


def bench(
    wavs: list[Path], model_dir: str | None, runtime: str | None, repeat: int = 1, whole_set: bool = True
) -> Report:
    """Load the model once, then convert every file exactly as `piano-ai convert FILE` does, one at a time;
    with ``whole_set`` then the set at once as `piano-ai convert FILES` does (set_pass).

    With repeat > 1 the whole set is converted that many times and the fastest pass is reported
    (other processes sharing the cores only ever make a pass slower).
    """
    from piano_ai.inference import load_transcriber
    from piano_ai.settings import get_settings
    from piano_ai.types import NoteParams

    settings = get_settings()
    context = _context()
    started = time.perf_counter()
    model = load_transcriber(model_dir or settings.model_dir, runtime=runtime or settings.runtime)
    load_s = time.perf_counter() - started
    params = NoteParams().validate()
    warmup_s = warm_up(model, params)
    passes = [one_pass(wavs, model, params) for _ in range(max(repeat, 1))]
    report = min(passes, key=lambda r: r.wall_s)
    report.load_s, report.warmup_s, report.context = load_s, warmup_s, context
    report.passes = len(passes)
    report.runtime, report.model_dir = model.runtime, str(model.model_dir)
    report.peak_rss_mb = _peak_rss_mb()
    if whole_set:
        set_pass(wavs, model_dir or settings.model_dir, model.runtime, repeat, report)
    return report


def set_pass(
    wavs: list[Path], model_dir: "str | Path | None", runtime: str, repeat: int, report: Report
) -> None:
    """The set converted ``repeat`` times as `piano-ai convert FILES` converts it (its files at once, the
    model loaded with the threads it gives each call); the fastest pass into ``report``'s set_ fields."""
    from contextlib import redirect_stdout

    from piano_ai.commands.convert import conversion_plan
    from piano_ai.commands.convert_all import convert_all
    from piano_ai.inference import load_transcriber
    from piano_ai.types import NoteParams

    at_once, threads, calls_at_once = conversion_plan(len(wavs))
    model = load_transcriber(model_dir, runtime=runtime, threads=threads)
    params = NoteParams().validate()
    warm_up(model, params)
    walls, cpus = [], []
    for _ in range(max(repeat, 1)):
        with tempfile.TemporaryDirectory() as out_dir, open(os.devnull, "w") as quiet:
            started, cpu_started = time.perf_counter(), time.process_time()
            with redirect_stdout(quiet):  # convert_all prints each file's line
                failed = convert_all(wavs, model, params, Path(out_dir), ("mid",), True, False, at_once,
                                     calls_at_once)  # fmt: skip
            walls.append(time.perf_counter() - started)
            cpus.append(time.process_time() - cpu_started)
        if failed:
            raise RuntimeError(f"{failed} files failed in the set pass")
    fastest = walls.index(min(walls))
    report.files_at_once = min(at_once, len(wavs))
    report.set_wall_s, report.set_cpu_s = walls[fastest], cpus[fastest]
    report.set_peak_rss_mb = _peak_rss_mb()


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def one_pass(wavs: list[Path], model: "Transcriber", params: "NoteParams") -> Report:
    """Convert every file once through convert_file (the CLI's code path), timing each stage."""
    from piano_ai.commands.convert import convert_file

    report = Report(files=len(wavs))
    with tempfile.TemporaryDirectory() as out_dir:
        started, cpu_started = time.perf_counter(), time.process_time()
        for wav in wavs:
            result = convert_file(wav, model, params, Path(out_dir))
            report.audio_s += result.audio_s
            report.notes += result.note_count
            for stage, seconds in result.stage_s.items():
                report.stage_s[stage] = report.stage_s.get(stage, 0.0) + seconds
        report.wall_s = time.perf_counter() - started
        report.cpu_s = time.process_time() - cpu_started
    return report


def warm_up(model: "Transcriber", params: "NoteParams") -> float:
    """Seconds for a first transcription of 2 s of silence: librosa loads its numba caches then, once
    per process (a worker does this at start), so it is reported apart like the model load."""
    import numpy as np

    from piano_ai.constants import SAMPLE_RATE
    from piano_ai.transcribe import transcribe

    started = time.perf_counter()
    transcribe(np.zeros(2 * SAMPLE_RATE, np.float32), model, params)
    return time.perf_counter() - started


def _context() -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{platform.processor() or platform.machine()}, {cores} cores, load average {load} at the start"


def text(report: Report) -> str:
    lines = [
        f"files: {report.files}, audio: {report.audio_s / 60:.1f} min, notes: {report.notes}",
        f"model load: {report.load_s:.2f} s ({report.runtime}, {report.model_dir}), not counted below",
        f"first-call warm-up on 2 s of silence: {report.warmup_s:.2f} s, not counted below",
        f"conversion wall time: {report.wall_s:.2f} s -> {report.realtime_factor:.0f}x real time",
        f"CPU time (user + sys, all threads): {report.cpu_s:.2f} s",
    ]
    if report.set_wall_s:
        lines += [
            f"the set at once ({report.files_at_once} files, as `piano-ai convert FILES`): "
            f"{report.set_wall_s:.2f} s -> {report.set_realtime_factor:.0f}x real time, "
            f"CPU {report.set_cpu_s:.2f} s, peak RSS {report.set_peak_rss_mb:.0f} MB",
        ]
    for stage, seconds in stage_rows(report):
        share = 100 * seconds / report.wall_s if report.wall_s else 0.0
        speed = report.audio_s / seconds if seconds else float("inf")
        lines.append(f"  {stage:<15} {seconds:7.2f} s  {share:5.1f}%  {speed:8.0f}x real time")
    lines += [f"peak RSS: {report.peak_rss_mb:.0f} MB", f"machine: {report.context}"]
    return "\n".join(lines)


def markdown(report: Report, note: str = "") -> str:
    today = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    rows = [
        f"{SECTION}",
        "",
        f"Measured {today} with `make bench` (scripts/bench.py): {report.files} ASAP performances,",
        f"{report.audio_s / 60:.1f} min of audio rendered by FluidSynth (FluidR3_GM), {report.audio_format},",
        "through `piano-ai convert`'s code path (decode, log-mel, model, notes, MIDI file) with the default",
        f"thresholds; the fastest of {report.passes} passes over the set. Runtime: {report.runtime}.",
        f"Machine: {report.context}; a load above the core count means other work shared them.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| audio converted | {report.audio_s:.1f} s in {report.files} files ({report.notes} notes) |",
        f"| model load (once, not in the real-time factor) | {report.load_s:.2f} s |",
        f"| first-call warm-up on 2 s of silence (once, not in it either) | {report.warmup_s:.2f} s |",
        f"| conversion wall time, one file at a time | {report.wall_s:.2f} s |",
        f"| the same: CPU time of the process (user + sys, all threads) | {report.cpu_s:.2f} s |",
        f"| **the same: real-time factor** (audio s / wall s) | **{report.realtime_factor:.0f}x** |",
        f"| the same: peak RSS | {report.peak_rss_mb:.0f} MB |",
        *_set_rows(report),
        "",
        "| stage | seconds | share | real-time factor of the stage |",
        "|---|---|---|---|",
    ]
    for stage, seconds in stage_rows(report):
        share = 100 * seconds / report.wall_s if report.wall_s else 0.0
        speed = f"{report.audio_s / seconds:.0f}x" if seconds else "-"
        rows.append(f"| {stage} | {seconds:.2f} | {share:.1f}% | {speed} |")
    if note:
        rows += ["", note]
    return "\n".join(rows) + "\n"


def _set_rows(report: Report) -> list[str]:
    """The markdown rows of the set pass, none when it did not run."""
    if not report.set_wall_s:
        return []
    how = f"the {report.files} files at once as `piano-ai convert FILES` ({report.files_at_once} at a time)"
    return [
        f"| {how}: wall time | {report.set_wall_s:.2f} s |",
        f"| the same: CPU time | {report.set_cpu_s:.2f} s |",
        f"| **the same: real-time factor** | **{report.set_realtime_factor:.0f}x** |",
        f"| the same: peak RSS (whole process, both passes) | {report.set_peak_rss_mb:.0f} MB |",
    ]


def write_section(doc: Path, section: str, title: str = SECTION) -> None:
    """Replace the ``title`` section of ``doc`` (or append it), leaving the rest alone."""
    old = doc.read_text(encoding="utf-8") if doc.is_file() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(title)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    new = (
        pattern.sub(lambda _: section + "\n", old)
        if pattern.search(old)
        else old.rstrip("\n") + "\n\n" + section
    )
    doc.write_text(new.rstrip("\n") + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="audio to convert, at least (default 10)")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data" / "bench", help="rendered audio cache")
    parser.add_argument("--asap-dir", type=Path, default=ASAP_DIR, help="ASAP performance MIDI folder")
    parser.add_argument("--model", help="model directory (default: the shipped one)")
    parser.add_argument("--runtime", choices=("auto", *RUNTIMES))
    parser.add_argument(
        "--format", choices=("wav", "mp3", "m4a", "flac", "ogg"), default="wav",
        help="wav: the 16 kHz renders as they are; others: re-encoded at 44.1 kHz stereo (decode + resample)",
    )  # fmt: skip
    parser.add_argument("--repeat", type=int, default=3, help="passes over the set; the fastest counts")
    parser.add_argument("--markdown", action="store_true", help="print the docs table instead of text")
    parser.add_argument("--note", default="", help="a paragraph to add under the tables")
    parser.add_argument("--write-docs", type=Path, metavar="MD", help="also update this file's section")
    parser.add_argument(
        "--versus-basic-pitch", action="store_true",
        help="piano-ai and Basic Pitch (.venv-bp) on the same files, alternating (--repeat rounds)",
    )  # fmt: skip
    args = parser.parse_args(argv)

    wavs = render(pick_performances(args.asap_dir, args.minutes), args.asap_dir, args.data_dir)
    if args.format != "wav":
        wavs = encode(wavs, args.format, args.data_dir)
    if args.versus_basic_pitch:
        return versus_basic_pitch(wavs, args)
    report = bench(wavs, args.model, args.runtime, args.repeat)
    if args.format != "wav":
        report.audio_format = f"44.1 kHz stereo {args.format}"
    print(markdown(report, args.note) if args.markdown else text(report))
    if args.write_docs:
        write_section(args.write_docs, markdown(report, args.note))
        print(f"wrote {args.write_docs}", file=sys.stderr)
    return 0


def versus_basic_pitch(files: list[Path], args: argparse.Namespace) -> int:
    """--versus-basic-pitch: scripts/bench/versus.py's side-by-side run, printed (and written to the docs)."""
    import soundfile as sf

    sys.path.insert(0, str(ROOT / "scripts" / "bench"))
    import versus

    context = _context()

    def ours(paths: list[Path]) -> float:
        return bench(paths, args.model, args.runtime, repeat=1, whole_set=False).wall_s

    mine, theirs = versus.compare(files, args.repeat, ours)
    audio_s = sum(sf.info(str(path)).duration for path in files)
    fmt = "16 kHz wav" if args.format == "wav" else f"44.1 kHz stereo {args.format}"
    section = versus.markdown(mine, theirs, audio_s, len(files), fmt, args.repeat, context)
    print(section)
    if args.write_docs:
        write_section(args.write_docs, section, versus.SECTION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
