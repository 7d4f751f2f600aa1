"""scripts/bench/proc_usage.py: CPU time and RSS from /proc."""

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "scripts" / "bench"))
from proc_usage import children, cpu_s, rss_mb  # noqa: E402


def test_cpu_time_grows_with_work_and_counts_children() -> None:
    before = cpu_s(os.getpid())
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:
        pass
    assert cpu_s(os.getpid()) - before >= 0.2
    busy = (
        "import time\nend = time.process_time() + 0.5\nwhile time.process_time() < end: pass\n"
        "print('done', flush=True)\ninput()"
    )
    child = subprocess.Popen([sys.executable, "-c", busy], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert child.pid in children(os.getpid())
        assert child.stdout.readline() == b"done\n"  # its busy loop has ended (however loaded the machine)
        assert cpu_s(os.getpid(), with_children=True) - cpu_s(os.getpid()) >= 0.4
    finally:
        child.communicate(b"\n", timeout=30)


def test_rss_is_this_process_resident_memory() -> None:
    before = rss_mb(os.getpid())
    block = b"\x01" * (64 * 1024 * 1024)  # written: resident
    assert rss_mb(os.getpid()) - before >= 60
    del block
