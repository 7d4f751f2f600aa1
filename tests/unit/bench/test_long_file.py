"""scripts/bench/long_file.py's table and its in-place docs update (the run itself is `make bench-long`)."""

from pathlib import Path
from types import ModuleType

import pytest
from script_loader import load_script

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "bench" / "long_file.py"


@pytest.fixture(scope="module")
def long_file() -> ModuleType:
    return load_script(SCRIPT, "long_file_script")


def test_the_table_and_the_section_update(long_file: ModuleType, tmp_path: Path) -> None:
    runs = [
        long_file.Run("after", 1.0, 3600.0, 20.0, 667.4, 40116),
        long_file.Run("after", 3.0, 10800.0, 60.0, 688.0, 9),
    ]
    table = long_file.markdown(runs)
    assert "| after | 1 h | 20.0 s | 180x | 667 MB | 40116 |" in table
    assert "| after | 3 h | 60.0 s | 180x | 688 MB | 9 |" in table
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n## Long recordings\n\nold\n\n## Next\n\nkept\n")
    long_file.write_section(doc, table)
    text = doc.read_text()
    assert "old" not in text and "| after | 1 h |" in text and text.endswith("## Next\n\nkept\n")
