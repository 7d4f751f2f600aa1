"""CPU time and resident memory of a process and its children, from /proc (Linux).

CPU seconds spent per request or per job move far less than wall times when other work shares the cores,
so scripts/bench_service.py reports both.
"""

import os
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")  # /proc/<pid>/stat counts CPU time in these, per second


def _stat_fields(pid: int) -> list[str]:
    # The command name (field 2) may hold spaces: split after its closing parenthesis.
    return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1]).split()


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (a Celery worker's pool processes)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat_fields(int(entry.name))[1]) == pid:
                    found.append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
    return found


def cpu_s(pid: int, with_children: bool = False) -> float:
    """User + system CPU seconds of ``pid`` (plus its live children's, when asked)."""
    fields = _stat_fields(pid)
    own = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    return own + (sum(cpu_s(child) for child in children(pid)) if with_children else 0.0)


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` now, MB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0
