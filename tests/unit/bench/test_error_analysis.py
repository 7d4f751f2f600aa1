"""error_analysis: oracle ceilings, end errors by length and velocity agreement, from mir_eval matching."""

from pathlib import Path

import numpy as np
import pytest
from script_loader import load_script

from piano_ai.data.targets import notes_to_targets
from piano_ai.types import Activations, Note

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "bench" / "error_analysis.py"

analysis = load_script(SCRIPT)
REF = [Note(60, 0.5, 1.5, 80), Note(64, 0.5, 0.9, 40), Note(67, 1.0, 2.0, 100), Note(72, 1.2, 1.3, 60)]


def _activations(notes: list[Note]) -> Activations:
    t = {k: v.astype(np.float32) for k, v in notes_to_targets(notes, 90).items()}
    return Activations(t["onset"], t["frame"], t["offset"], t["velocity"] / 127.0)


def test_ends_that_are_off_lower_offset_f1_but_not_the_oracle_ceiling() -> None:
    late = [Note(n.pitch, n.start, n.end + 0.4, n.velocity) for n in REF]  # every end 0.4 s late
    result = analysis.analyse([("000001-fluidr3-asap", _activations(late), REF)])
    scores = {m: s["f1"] for m, s in result.shipped.scores().items()}
    oracle = {m: s["f1"] for m, s in result.oracle.scores().items()}
    assert scores["onset"] == 1.0 and scores["offset"] == 0.0
    assert oracle["offset"] == 1.0 and oracle["velocity"] == 1.0
    assert np.allclose(result.end_error_s, 0.4, atol=0.04)  # ends are quantised to 32 ms frames
    lines = analysis.report(result)
    assert "fluidr3      onset precision 1.000 recall 1.000, F1 {'onset': 1.0, 'offset': 0.0" in lines[1]
    assert any("within 0.000, early 0.000, late 1.000" in line for line in lines)
    assert any(
        line.startswith("  asap              4 notes, F1 {'onset': 1.0, 'offset': 0.0") for line in lines
    )


def test_velocity_agreement_uses_a_per_file_linear_fit() -> None:
    pairs = [(i, i) for i in range(len(REF))]
    scaled = [Note(n.pitch, n.start, n.end, n.velocity // 2 + 10) for n in REF]  # affine: all hits
    hits, corr = analysis.velocity_agreement(REF, scaled, pairs)
    assert all(hits) and corr == pytest.approx(1.0, abs=1e-3)
    shuffled = [Note(n.pitch, n.start, n.end, v) for n, v in zip(REF, (100, 40, 60, 80), strict=True)]
    hits, corr = analysis.velocity_agreement(REF, shuffled, pairs)
    assert not all(hits) and corr < 0.5


def test_instrument_and_source_come_from_the_evalset_file_name() -> None:
    assert analysis.instrument_of("000012-gmbank-acoustic-asap") == "gmbank-acoustic"
    assert analysis.instrument_of("000003-headroom-synthetic") == "headroom"
    assert analysis.source_of("000003-headroom-synthetic") == "synthetic"
    assert (analysis.instrument_of("take1"), analysis.source_of("take1")) == ("?", "?")
