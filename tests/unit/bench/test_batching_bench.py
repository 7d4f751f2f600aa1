"""scripts/bench/batching.py's clips and tables (the run itself is `make bench-batch`)."""

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import soundfile as sf
from script_loader import load_script

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "bench" / "batching.py"


@pytest.fixture(scope="module")
def batching() -> ModuleType:
    return load_script(SCRIPT, "batching_script")


def test_the_sweep_table_compares_with_batch_8_at_the_same_threads(batching: ModuleType) -> None:
    settings = [
        batching.Setting(1, 1, wall_s=[1.6, 2.0, 1.7], cpu_s=[1.6, 1.6, 1.6]),
        batching.Setting(1, 8, wall_s=[0.8, 0.9, 0.8], cpu_s=[0.8, 0.8, 0.8]),
        batching.Setting(0, 1, wall_s=[1.0], cpu_s=[2.0]),
    ]
    table = batching.sweep_table(settings, chunks=16)
    assert "| 1 | 1 | 106.2 (100.0) | 100.0 | 135x | 0.47x |" in table  # 16 chunks of 14.336 s kept
    assert "| 1 | 8 | 50.0 (50.0) | 50.0 | 287x | 1.00x |" in table
    assert "| default | 1 | 62.5 (62.5) | 125.0 | 229x | - |" in table  # no batch 8 at that thread count


def test_clips_are_cut_in_order_and_the_files_table_states_speed_against_one_at_a_time(
    batching: ModuleType, tmp_path: Path
) -> None:
    render = tmp_path / "take.wav"
    sf.write(render, np.zeros(25 * 1000, np.float32), 1000)  # 25 s at 1 kHz
    made = batching.clips([render], 10, 5, tmp_path / "clips")
    assert [p.name for p in made] == ["take_0s.wav", "take_10s.wav"]  # the last 5 s are not a whole clip
    assert all(sf.info(str(p)).duration == 10 for p in made)
    table = batching.files_table({"2 clips": made}, {"2 clips": {1: [2.0, 4.0, 3.0], 8: [1.0, 2.0, 1.5]}})
    assert "| 2 clips | 1 | 3.00 (2.00) | 7x | 1.00x |" in table
    assert "| 2 clips | 8 | 1.50 (1.00) | 13x | 2.00x |" in table
