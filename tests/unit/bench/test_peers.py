"""The benchmark's peers in scripts/bench/peers.py and accuracy.py's rows: only the peer's subprocess is faked
(it writes the MIDI files transkun_predict.py would); scoring is the real piano_ai.evaluation code."""

import json
import subprocess
from pathlib import Path

import pretty_midi
import pytest
from script_loader import load_script

BENCH = Path(__file__).resolve().parents[3] / "scripts" / "bench"
load_script(BENCH / "threshold_grid.py")
ar = load_script(BENCH / "accuracy_report.py")
peers = load_script(BENCH / "peers.py")
accuracy = load_script(BENCH / "accuracy.py")

KEYS = [(60, 0.0, 0.5), (64, 1.0, 1.5)]  # (pitch, start, key release)
PEDAL = [(64, 127, 0.2), (64, 0, 2.0)]  # holds the first note until 2.0 s


def write_midi(path: Path, notes: list[tuple[int, float, float]], ccs: list = ()) -> None:
    midi = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(0)
    piano.notes = [pretty_midi.Note(90, p, s, e) for p, s, e in notes]
    piano.control_changes = [pretty_midi.ControlChange(n, v, t) for n, v, t in ccs]
    midi.instruments.append(piano)
    midi.write(str(path))


@pytest.fixture
def eval_dir(tmp_path: Path) -> Path:
    """Two clips whose reference, like data/eval/*, holds pedal-extended notes and no CC64."""
    folder = tmp_path / "v2"
    folder.mkdir()
    for stem in ("a", "b"):
        (folder / f"{stem}.flac").write_bytes(b"")
        write_midi(folder / f"{stem}.mid", [(60, 0.0, 2.0), (64, 1.0, 2.0)])
    return folder


class FakeTranskun:
    """subprocess.run as transkun_predict.py would answer it: <stem>.mid at key release + CC64, speed.json."""

    def __init__(self) -> None:
        self.commands: list[list[str]] = []

    def __call__(self, cmd: list[str], check: bool) -> subprocess.CompletedProcess:
        self.commands.append(cmd)
        out = Path(cmd[cmd.index("--out") + 1])
        out.mkdir(parents=True, exist_ok=True)
        files = [Path(c) for c in cmd[2 : cmd.index("--out")]]
        for audio in files:
            write_midi(out / f"{audio.stem}.mid", KEYS, PEDAL)
        per_file = [
            {"file": a.name, "audio_s": 2.0, "wall_s": 3.0, "cpu_s": 5.0, "cached": False} for a in files
        ]
        speed = {"files": len(files), "audio_s": 2.0 * len(files), "wall_s": 3.0 * len(files)}
        speed |= {
            "cpu_s": 5.0 * len(files),
            "seconds_per_file": 3.0,
            "realtime_factor": 2 / 3,
            "per_file": per_file,
        }
        (out / "speed.json").write_text(json.dumps(speed))
        return subprocess.CompletedProcess(cmd, 0)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeTranskun:
    python = tmp_path / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.touch()
    monkeypatch.setattr(peers, "TK_PYTHON", python)
    fake = FakeTranskun()
    monkeypatch.setattr(peers.subprocess, "run", fake)
    return fake


def audio_of(eval_dir: Path) -> list[Path]:
    return sorted(eval_dir.glob("*.flac"))


def test_transkun_is_a_default_peer_only_when_its_environment_exists(fake: FakeTranskun) -> None:
    assert peers.default_peers() == ["basic-pitch", "transkun"]
    peers.TK_PYTHON.unlink()
    assert peers.default_peers() == ["basic-pitch"]


def test_transkun_runs_in_its_own_python_once_then_reads_its_outputs(
    fake: FakeTranskun, eval_dir: Path
) -> None:
    out = eval_dir.with_name("v2-transkun")
    speed = peers.ensure_transkun(out, audio_of(eval_dir))
    (cmd,) = fake.commands
    assert cmd[0] == str(peers.TK_PYTHON) and cmd[1].endswith("transkun_predict.py")
    assert cmd[2:4] == [str(a) for a in audio_of(eval_dir)]
    assert speed["seconds_per_file"] == 3.0
    peers.ensure_transkun(out, audio_of(eval_dir))
    assert len(fake.commands) == 1  # every output is there: no second run


def test_asking_for_transkun_without_its_environment_says_how_to_make_it(
    fake: FakeTranskun, eval_dir: Path
) -> None:
    peers.TK_PYTHON.unlink()
    with pytest.raises(SystemExit, match="setup_transkun.sh"):
        peers.run_peers(eval_dir, audio_of(eval_dir), ["transkun"], rerun_basic_pitch=False)


def test_transkun_notes_meet_pedal_extended_truth_through_its_own_pedal(
    fake: FakeTranskun, eval_dir: Path
) -> None:
    results = peers.run_peers(eval_dir, audio_of(eval_dir), ["transkun"], rerun_basic_pitch=False)
    assert results.bp == {} and results.transkun_speed["files"] == 2
    # both keys are released (0.5 s, 1.5 s) while the pedal is down: they sound until it lifts at 2.0 s
    assert results.transkun.summary()["offset"]["f1"] == 1.0
    from piano_ai.evaluation.evaluate import evaluate, folder_estimator

    unextended = evaluate(eval_dir, folder_estimator(eval_dir.with_name("v2-transkun"), pedal=False))
    assert unextended.summary()["offset"]["f1"] == 0.0


def test_transkun_row_has_its_scores_and_seconds_per_file(fake: FakeTranskun, eval_dir: Path) -> None:
    results = peers.run_peers(eval_dir, audio_of(eval_dir), ["transkun"], rerun_basic_pitch=False)
    rows, bp_best = accuracy.build_rows([], {}, results)
    assert bp_best is None
    (row,) = rows
    assert row.system.startswith("Transkun 2.0.1") and row.seconds_per_file == 3.0
    line = ar.table(rows).splitlines()[2]
    assert line.startswith("| Transkun 2.0.1") and line.endswith("| 1.000 | 1.000 | 1.000 | 1.000 | 2 | 3 |")
    saved = accuracy.results_json(rows, results, bp_best, {"n_files": 2})
    assert saved["rows"][0]["seconds_per_file"] == 3.0 and saved["basic_pitch_best"] is None


def test_section_says_how_transkun_ran_and_how_fast() -> None:
    speed = {"realtime_factor": 0.5, "seconds_per_file": 40.0, "cpu_s": 35.0, "audio_s": 20.0}
    line = ar.speed_line({"machine": "x86_64, 2 cores", "transkun_speed": speed})
    assert "Transkun 0.50x, 40 s per file and 1.75 CPU s per audio s" in line
    assert ar.TRANSKUN_TEXT.strip().startswith("Transkun 2.0.1")


def test_section_without_basic_pitch_names_only_what_ran() -> None:
    context = {
        "measured_at": "2026-12-02 05:00 UTC",
        "command": "make bench-accuracy DATASET=data/rendered/v2",
        "dataset": "data/rendered/v2",
        "n_files": 2,
        "split_rule": "rule",
        "machine": "x86_64, 2 cores",
        "transkun_speed": {"realtime_factor": 0.5, "seconds_per_file": 40.0, "cpu_s": 35.0, "audio_s": 20.0},
    }
    section = ar.markdown_section([], context)
    assert "Basic Pitch 0.4.0 ran" not in section and "Transkun 2.0.1 (Transkun V2" in section
    assert "\n\n\n" not in section


def test_no_product_code_imports_a_peer() -> None:
    """The peers live in their own environments: shared/ and services/ never import them."""
    import re

    root = BENCH.parents[1]
    pattern = re.compile(r"^\s*(import|from)\s+(torch|torchaudio|transkun|basic_pitch)\b", re.MULTILINE)
    sources = [*root.joinpath("shared").rglob("*.py"), *root.joinpath("services").rglob("*.py")]
    assert sources
    assert [str(p) for p in sources if pattern.search(p.read_text())] == []
