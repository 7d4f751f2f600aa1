"""basic_pitch_predict.py end to end on a 3 s tone, in the benchmark's own environment (.venv-bp)."""

import json
import subprocess
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "bench" / "basic_pitch_predict.py"
BP_PYTHON = ROOT / ".venv-bp" / "bin" / "python"


@pytest.mark.slow
@pytest.mark.skipif(not BP_PYTHON.exists(), reason="no .venv-bp: bash scripts/bench/setup_basic_pitch.sh")
def test_writes_every_grid_folder_and_its_speed(tmp_path: Path) -> None:
    sr = 16000
    t = np.arange(3 * sr) / sr
    tone = (0.3 * np.sin(2 * np.pi * 440.0 * t) * np.exp(-t)).astype(np.float32)  # A4, decaying
    (tmp_path / "in").mkdir()
    sf.write(tmp_path / "in" / "a4.wav", tone, sr)
    out = tmp_path / "out"
    subprocess.run([str(BP_PYTHON), str(SCRIPT), str(tmp_path / "in"), "--out", str(out)], check=True)

    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert len(folders) == 30 and "0.5-0.3-127.7" in folders and "0.3-0.2-58" in folders
    assert all((out / f / "a4.mid").exists() for f in folders)
    notes = pretty_midi.PrettyMIDI(str(out / "0.3-0.2-58" / "a4.mid")).instruments[0].notes
    assert 69 in {n.pitch for n in notes}  # Basic Pitch hears the A4
    speed = json.loads((out / "speed.json").read_text())
    assert speed["files"] == 1 and abs(speed["audio_s"] - 3.0) < 1e-6 and speed["realtime_factor"] > 0
