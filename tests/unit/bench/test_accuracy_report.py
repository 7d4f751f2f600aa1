"""The accuracy section of docs/benchmarks.md: table layout, margin line, and replacing only our section."""

from dataclasses import dataclass
from pathlib import Path

from script_loader import load_script

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "bench" / "accuracy_report.py"


ar = load_script(SCRIPT)


@dataclass
class FakeReport:
    """Stands in for piano_ai.evaluation.evaluate.Report: the same summary() shape."""

    f1: float
    files: int = 2

    @property
    def per_file(self) -> dict[str, dict]:
        return {f"f{i}.flac": {} for i in range(self.files)}

    def summary(self) -> dict[str, dict[str, float]]:
        return {m: {"f1": self.f1} for m in ar.METRICS}


CONTEXT = {
    "measured_at": "2026-11-25 12:00 UTC",
    "command": "make bench-accuracy DATASET=data/rendered/v1",
    "dataset": "data/rendered/v1",
    "n_files": 2,
    "audio_s": 60.0,
    "split_rule": "rule",
    "held_out_instruments": [],
    "machine": "x86_64, 2 cores",
    "our_speed": {"piano-ai (shipped model)": {"realtime_factor": 300.0}},
    "basic_pitch_speed": {"realtime_factor": 20.0},
}
ROWS = [
    ar.Row("piano-ai (shipped model), onset threshold 0.5", FakeReport(0.95), "default, best"),
    ar.Row("Basic Pitch 0.4.0, onset 0.5, frame 0.3, min note 127.7 ms", FakeReport(0.80), "its defaults"),
    ar.Row("Basic Pitch 0.4.0, onset 0.6, frame 0.3, min note 58 ms", FakeReport(0.85), "best of the grid"),
]


def test_table_has_the_columns_and_bolds_best_rows() -> None:
    lines = ar.table(ROWS).splitlines()
    assert (
        lines[0] == "| system | onset F1 | onset+offset F1 | +velocity F1 | frame F1 | n files | s per file |"
    )
    best = "| **piano-ai (shipped model), onset threshold 0.5 (default, best)** | **0.950**"
    assert lines[2].startswith(best)
    assert lines[2].endswith("| 2 | - |")
    assert "**" not in lines[3]
    assert lines[4].count("**0.850**") == 4


def test_margin_line_against_the_bar() -> None:
    assert "+0.100" in ar.margin_line(ROWS) and "met" in ar.margin_line(ROWS)
    weaker = [ar.Row(ROWS[0].system, FakeReport(0.88), "best"), ROWS[2]]
    assert ar.margin_line(weaker).endswith("not met).")


def test_section_is_replaced_and_other_sections_kept() -> None:
    section = ar.markdown_section(ROWS, CONTEXT)
    assert section.startswith(ar.SECTION + "\n") and section.endswith("\n")
    doc = "# Benchmarks\n\n## Conversion speed\n\nfast\n"
    once = ar.replace_section(doc, section)
    assert once.startswith(doc.rstrip("\n")) and section in once
    twice = ar.replace_section(once, section.replace("0.950", "0.960"))
    assert twice.count(ar.SECTION) == 1 and "0.960" in twice and "0.950" not in twice
    middle = "# B\n\n" + section + "\n## Conversion speed\n\nfast\n"
    replaced = ar.replace_section(middle, ar.SECTION + "\n\nnew\n")
    assert replaced == "# B\n\n## Accuracy vs Basic Pitch\n\nnew\n\n## Conversion speed\n\nfast\n"


def test_edge_note_names_the_thresholds() -> None:
    assert ar.edge_note([]) == ""
    assert "onset threshold" in ar.edge_note(["onset_threshold"])
