"""A job run's scratch folder in the temp folder, and the sweep that removes those of killed runs.

A run's folder (the upload, downloaded when the storage is not on this disk) is removed when the run
ends; a run killed mid-way (out of memory, the hard time limit, a lost machine) leaves it behind. Each
folder is named by the pool process that made it, ``piano-job-p<pid>-<job id>-...``, so a process
starting on the same machine removes the folders of processes that no longer run, never those of its
running siblings.
"""

import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from piano_worker.heartbeat import process_alive

logger = logging.getLogger(__name__)

PREFIX = "piano-job-"


def scratch_prefix(job_id: str) -> str:
    """The prefix of this process's scratch folder for job ``job_id`` (tempfile adds a random suffix)."""
    return f"{PREFIX}p{os.getpid()}-{job_id[:8]}-"


def sweep_stale(folder: Path | None = None, unnamed_after_s: float = 3600.0) -> list[Path]:
    """Remove the scratch folders in ``folder`` (default: the temp folder) whose process no longer runs,
    and those of an older naming without a pid once ``unnamed_after_s`` old; returns the removed paths."""
    removed = []
    for path in (folder or Path(tempfile.gettempdir())).glob(f"{PREFIX}*"):
        owner = path.name.removeprefix(PREFIX).split("-", 1)[0]
        if owner.startswith("p") and owner[1:].isdigit():
            stale = int(owner[1:]) != os.getpid() and not process_alive(int(owner[1:]))
        else:
            stale = _age_s(path) > unnamed_after_s
        if stale and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    if removed:
        logger.warning("removed %d scratch folders of killed job runs: %s", len(removed), removed)
    return removed


def _age_s(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return 0.0
