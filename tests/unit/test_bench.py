"""scripts/bench.py's report rendering and its in-place docs update (the run itself is `make bench`)."""

from pathlib import Path
from types import ModuleType

import pytest
from script_loader import load_script

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_script(SCRIPT, "bench_script")


def sample_report(bench: ModuleType) -> object:
    report = bench.Report(files=2, audio_s=600.0, wall_s=2.0, load_s=0.1, notes=1234, runtime="onnx")
    report.stage_s.update(decoding=0.2, features=0.5, inference=1.1, postprocessing=0.15, writing=0.05)
    return report


def test_report_texts(bench: ModuleType) -> None:
    report = sample_report(bench)
    assert report.realtime_factor == 300.0
    assert "300x real time" in bench.text(report)
    table = bench.markdown(report)
    assert table.startswith(bench.SECTION + "\n")
    assert "| **the same: real-time factor** (audio s / wall s) | **300x** |" in table
    assert "| inference | 1.10 | 55.0% | 545x |" in table
    assert "at once" not in table  # no set pass ran


def test_the_set_pass_has_rows_of_its_own(bench: ModuleType) -> None:
    report = sample_report(bench)
    report.files_at_once, report.set_wall_s, report.set_cpu_s, report.set_peak_rss_mb = 2, 1.5, 2.9, 310.0
    assert report.set_realtime_factor == 400.0
    assert "the set at once (2 files, as `piano-ai convert FILES`): 1.50 s -> 400x" in bench.text(report)
    table = bench.markdown(report)
    assert "| **the same: real-time factor** | **400x** |" in table
    assert "| the same: peak RSS (whole process, both passes) | 310 MB |" in table


def test_the_set_pass_converts_every_file_with_the_shipped_model(bench: ModuleType, tmp_path: Path) -> None:
    import numpy as np
    import soundfile as sf

    wavs = []
    for i, hz in enumerate((220.0, 440.0)):
        t = np.arange(3 * 16000) / 16000
        sf.write(tmp_path / f"{i}.wav", (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32), 16000)
        wavs.append(tmp_path / f"{i}.wav")
    report = bench.Report(files=2, audio_s=6.0)
    bench.set_pass(wavs, None, "onnx-int8", 2, report)
    assert report.files_at_once == 2
    assert 0 < report.set_wall_s and 0 < report.set_peak_rss_mb


def test_write_section_replaces_only_its_own_section(bench: ModuleType, tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(
        "# Benchmarks\n\n## Accuracy\n\nF1 0.9\n\n## Conversion speed\n\nold\n\n## Service\n\np50\n"
    )
    bench.write_section(doc, "## Conversion speed\n\nnew\n")
    assert (
        doc.read_text()
        == "# Benchmarks\n\n## Accuracy\n\nF1 0.9\n\n## Conversion speed\n\nnew\n\n## Service\n\np50\n"
    )


def test_write_section_appends_when_missing(bench: ModuleType, tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n## Accuracy\n\nF1 0.9\n")
    bench.write_section(doc, "## Conversion speed\n\nnew\n")
    assert doc.read_text().endswith("F1 0.9\n\n## Conversion speed\n\nnew\n")


def test_a_streamed_conversion_reports_decoding_features_and_inference_as_one_row(bench: ModuleType) -> None:
    report = bench.Report(files=1, audio_s=600.0, wall_s=2.0, notes=10, runtime="onnx")
    report.stage_s.update(decoding=0.001, features=0.0, inference=1.5, postprocessing=0.3, writing=0.1)
    table = bench.markdown(report)
    assert f"| {bench.STREAMED} | 1.50 | 75.0% | 400x |" in table
    assert "| decoding |" not in table and "| features |" not in table
    assert "| postprocessing | 0.30 | 15.0% | 2000x |" in table
