"""The benchmark's peers: Basic Pitch and Transkun V2, each run in its own environment, and their Reports.

Neither is a product dependency: each has a venv of its own (.venv-bp, .venv-transkun, made by
setup_basic_pitch.sh and setup_transkun.sh) and runs as a subprocess (basic_pitch_predict.py,
transkun_predict.py) that writes MIDI files; those are scored here by piano_ai.evaluation like every system.
"""

import json
import logging
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from threshold_grid import Setting, grid, parse_setting

ROOT = Path(__file__).resolve().parent.parent.parent
BP_PYTHON = ROOT / ".venv-bp" / "bin" / "python"
TK_PYTHON = ROOT / ".venv-transkun" / "bin" / "python"
PEERS = ("basic-pitch", "transkun")
BP_DEFAULT = Setting(0.5, 0.3, 127.7)  # basic_pitch.inference.predict's defaults
BP_VERSION = "0.4.0"
TK_VERSION = "2.0.1"

log = logging.getLogger("bench.accuracy")


@dataclass
class PeerResults:
    """What the peers gave: Basic Pitch's grid of Reports and speed.json, Transkun's Report and speed.json."""

    bp: dict = field(default_factory=dict)  # Setting -> Report; empty when Basic Pitch was not asked for
    bp_speed: dict | None = None
    transkun: Any = None  # a Report, or None when Transkun was not run
    transkun_speed: dict | None = None


def default_peers() -> list[str]:
    """Basic Pitch always; Transkun when its environment is there (it is slow, and optional)."""
    return ["basic-pitch"] + ["transkun"] * TK_PYTHON.exists()


def run_peers(eval_dir: Path, audio: list[Path], peers: list[str], rerun_basic_pitch: bool) -> PeerResults:
    """Each asked-for peer's predictions (made now unless they are there) and Reports.

    Outputs go beside the eval folder: <eval dir>-basic-pitch/<setting>/, <eval dir>-transkun/.
    """
    results = PeerResults()
    if "basic-pitch" in peers:
        bp_dir = eval_dir.with_name(eval_dir.name + "-basic-pitch")
        results.bp_speed = ensure_basic_pitch(eval_dir, bp_dir, audio, len(audio), rerun_basic_pitch)
        results.bp = score_basic_pitch(eval_dir, bp_dir, len(audio))
    if "transkun" in peers:
        tk_dir = eval_dir.with_name(eval_dir.name + "-transkun")
        results.transkun_speed = ensure_transkun(tk_dir, audio)
        results.transkun = score_transkun(eval_dir, tk_dir, len(audio))
    return results


def ensure_basic_pitch(eval_dir: Path, out: Path, audio: list[Path], limit: int, rerun: bool) -> dict:
    """Basic Pitch's grid predictions for ``audio``; returns its speed report (speed.json)."""
    speed = out / "speed.json"
    done = speed.exists() and all((out / s.name / f"{a.stem}.mid").exists() for s in grid() for a in audio)
    if rerun or not done:
        if not BP_PYTHON.exists():
            raise SystemExit(f"{BP_PYTHON} is missing: run `bash scripts/bench/setup_basic_pitch.sh` first")
        script = Path(__file__).with_name("basic_pitch_predict.py")
        cmd = [str(BP_PYTHON), str(script), str(eval_dir), "--out", str(out), "--limit", str(limit)]
        log.info("running Basic Pitch: %s", " ".join(cmd))
        subprocess.run(cmd, check=True)
    return json.loads(speed.read_text())


def score_basic_pitch(eval_dir: Path, out: Path, limit: int) -> dict[Setting, "Report"]:  # noqa: F821
    """A Report for every grid folder under ``out``."""
    from piano_ai.evaluation.evaluate import evaluate, folder_estimator

    reports = {}
    for folder in sorted(p for p in out.iterdir() if p.is_dir()):
        setting = parse_setting(folder.name)
        if setting in grid():
            reports[setting] = evaluate(eval_dir, folder_estimator(folder), limit=limit)
            log.info("Basic Pitch %s: onset F1 %.3f", setting.name, reports[setting].summary()["onset"]["f1"])
    return reports


def ensure_transkun(out: Path, audio: list[Path]) -> dict:
    """Transkun's <stem>.mid for ``audio`` in ``out`` (transkun_predict.py's cache makes reruns cheap);
    returns its speed report (speed.json: seconds per file when each was transcribed)."""
    speed = out / "speed.json"
    done = speed.exists() and all((out / f"{a.stem}.mid").exists() for a in audio)
    if not done or json.loads(speed.read_text())["files"] != len(audio):
        if not TK_PYTHON.exists():
            raise SystemExit(f"{TK_PYTHON} is missing: run `bash scripts/bench/setup_transkun.sh` first")
        script = Path(__file__).with_name("transkun_predict.py")
        cmd = [str(TK_PYTHON), str(script), *map(str, audio), "--out", str(out)]
        log.info("running Transkun on %d files (cached ones are not transcribed again)", len(audio))
        subprocess.run(cmd, check=True)
    return json.loads(speed.read_text())


def score_transkun(eval_dir: Path, out: Path, limit: int) -> "Report":  # noqa: F821
    """Transkun's notes extended by its own CC64 (folder_estimator's default), scored like every system."""
    from piano_ai.evaluation.evaluate import evaluate, folder_estimator

    report = evaluate(eval_dir, folder_estimator(out, pedal=True), limit=limit)
    log.info("Transkun %s: onset F1 %.3f", TK_VERSION, report.summary()["onset"]["f1"])
    return report
