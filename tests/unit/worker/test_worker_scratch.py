"""Scratch folders of killed job runs are removed when a worker process starts; running ones are kept."""

import os
import subprocess
import sys
import time
from pathlib import Path

from piano_worker.scratch import PREFIX, scratch_prefix, sweep_stale


def _folder(root: Path, name: str, age_s: float = 0.0) -> Path:
    path = root / name
    (path / "sub").mkdir(parents=True)
    (path / "sub" / "input.wav").write_bytes(b"x")
    old = time.time() - age_s
    os.utime(path, (old, old))
    return path


def test_the_sweep_removes_folders_of_dead_processes_only(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    sibling = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        mine = _folder(tmp_path, scratch_prefix("11111111-aaaa") + "x1")
        killed = _folder(tmp_path, f"{PREFIX}p{dead.pid}-22222222-x2")
        running = _folder(tmp_path, f"{PREFIX}p{sibling.pid}-33333333-x3")
        old_unnamed = _folder(tmp_path, f"{PREFIX}44444444-x4", age_s=7200)
        new_unnamed = _folder(tmp_path, f"{PREFIX}55555555-x5")
        other = _folder(tmp_path, f"not-ours-p{dead.pid}")
        assert sorted(sweep_stale(tmp_path, unnamed_after_s=3600)) == sorted([killed, old_unnamed])
    finally:
        sibling.kill()
        sibling.wait()
    assert all(p.exists() for p in (mine, running, new_unnamed, other))
    assert not killed.exists() and not old_unnamed.exists()


def test_a_killed_process_not_yet_reaped_counts_as_dead(tmp_path: Path) -> None:
    """An orphaned pool process whose parent was killed too lingers as a zombie where PID 1 does not reap."""
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    while Path(f"/proc/{zombie.pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    try:  # exited, not waited for: a zombie
        folder = _folder(tmp_path, f"{PREFIX}p{zombie.pid}-66666666-x6")
        assert sweep_stale(tmp_path) == [folder]
    finally:
        zombie.wait()


def test_a_run_names_its_folder_by_its_process() -> None:
    assert scratch_prefix("0123456789abcdef").startswith(f"{PREFIX}p{os.getpid()}-01234567-")
