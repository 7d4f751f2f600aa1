"""The repository's Streamlit configuration: started from the root, the dashboard sends no usage data."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_usage_statistics_are_off(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    env["HOME"] = str(tmp_path)  # no personal ~/.streamlit/config.toml
    code = "from streamlit import config; print(config.get_option('browser.gatherUsageStats'))"
    command = [sys.executable, "-c", code]
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"
