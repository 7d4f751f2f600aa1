"""scripts/bench/score.py's pure parts: ASAP annotation parsing and the report table (the run is
`make bench-score`)."""

from pathlib import Path

import numpy as np
from script_loader import load_script

bench = load_script(Path(__file__).resolve().parents[3] / "scripts" / "bench" / "score.py")


def test_read_annotations(tmp_path: Path) -> None:
    path = tmp_path / "X01_annotations.txt"
    path.write_text("0.5\t0.5\tdb,6/8,1\n1.25\t1.25\tb\n2.0\t2.0\tdb\n\n")
    beats, downbeats = bench.read_annotations(path)
    np.testing.assert_allclose(beats, [0.5, 1.25, 2.0])
    np.testing.assert_allclose(downbeats, [0.5, 2.0])


def test_table() -> None:
    results = {"madmom": bench.Scores([0.5, 0.7], [0.2, 0.4], 12.0), "fixed-120": bench.Scores([0.2], [0.0])}
    text = bench.table(results, 2, 60.0)
    assert text.splitlines()[0] == "2 excerpts, 1.0 min of audio; mean F-measure (70 ms)"
    assert "| madmom | 0.600 | 0.300 | 12.0 |" in text
    assert "| fixed-120 | 0.200 | 0.000 | 0.0 |" in text


def test_quantization_table() -> None:
    counts = {"sixteenths or triplets (chosen)": (200, 150), "sixteenths only": (0, 0)}
    text = bench.quantization_table(counts)
    assert "| sixteenths or triplets (chosen) | 200 | 0.750 |" in text
    assert "| sixteenths only | 0 | 0.000 |" in text
