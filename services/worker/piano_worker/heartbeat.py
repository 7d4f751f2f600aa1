"""Liveness heartbeat file for the worker, checked without touching the broker.

The worker's main process touches its own file, ``/tmp/piano-worker-<pid>.heartbeat``, every
``INTERVAL_S`` seconds from its own event loop (a timer on the Celery consumer), so the file goes stale
when that loop hangs, even while a long job runs in the pool's child process. Kubernetes' exec liveness
probe and the image's HEALTHCHECK only read file ages (``python -m piano_worker.heartbeat --max-age-s 60``:
every running worker's file is fresh): no ``celery inspect ping`` hitting Redis from every pod every few
seconds.

Wiring: importing this module connects ``start_heartbeat`` to ``worker_ready`` and ``remove_heartbeat`` to
``worker_shutdown``. The images start the worker with ``--include piano_worker.heartbeat``; the worker's
own code may also import it, or call ``touch_heartbeat()`` from any signal (receivers are connected once).
Use the prefork pool (the default): with ``--pool solo`` a job blocks the loop and the file goes stale.
"""

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from celery.signals import worker_ready, worker_shutdown

logger = logging.getLogger(__name__)

# Where the heartbeats live: /tmp in the images and pods (a writable emptyDir there); the stdlib honours
# TMPDIR, which the worker and its probe share, so tests can move it. One file per Celery worker (main)
# process, named by its pid: two workers on one host (or one /tmp) never share a file.
FILE_PREFIX, FILE_SUFFIX = "piano-worker-", ".heartbeat"
INTERVAL_S = 10.0  # seconds between touches
DEFAULT_MAX_AGE_S = 60.0  # a probe fails when the file is older than this, seconds (6 missed touches)

# The consumer timer's entry and its file while the heartbeat runs, so a second start is a no-op.
_timer_entry: Any = None
_timer_path: Path | None = None


def heartbeat_dir() -> Path:
    """The folder of the heartbeat files (the temp folder: TMPDIR, else /tmp)."""
    return Path(tempfile.gettempdir())


def heartbeat_file(pid: int | None = None) -> Path:
    """The heartbeat file of worker process ``pid`` (default: this process)."""
    return heartbeat_dir() / f"{FILE_PREFIX}{pid or os.getpid()}{FILE_SUFFIX}"


def live_heartbeat_files(folder: Path | None = None) -> list[Path]:
    """The heartbeat files in ``folder`` whose worker process is still running (a killed worker's file,
    left behind, is not counted)."""
    files = []
    for path in sorted((folder or heartbeat_dir()).glob(f"{FILE_PREFIX}*{FILE_SUFFIX}")):
        pid = path.name.removeprefix(FILE_PREFIX).removesuffix(FILE_SUFFIX)
        if pid.isdigit() and process_alive(int(pid)):
            files.append(path)
    return files


def process_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this machine (in this pid namespace); a zombie (killed, not
    yet reaped: an orphaned pool process under a PID 1 that does not reap) does not run."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no /proc (not Linux), or it ended just now
        return not Path("/proc").is_dir()
    return stat.rpartition(")")[2].split()[0] != "Z"  # the state follows the command name in parentheses


def touch_heartbeat(path: Path) -> None:
    """Write the current Unix time to ``path`` (replacing it atomically); the probe reads its mtime."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{time.time():.3f}\n")
    os.replace(tmp, path)


def heartbeat_age_s(path: Path, now: float | None = None) -> float | None:
    """Seconds since ``path`` was last touched, or None if it does not exist."""
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return None
    return (time.time() if now is None else now) - mtime


def is_alive(path: Path, max_age_s: float = DEFAULT_MAX_AGE_S) -> bool:
    """True when the heartbeat file exists and was touched within ``max_age_s`` seconds."""
    age = heartbeat_age_s(path)
    return age is not None and age <= max_age_s


def _safe_touch(path: Path) -> None:
    # A full or read-only disk must not crash the consumer's event loop; the probe will notice instead.
    try:
        touch_heartbeat(path)
    except OSError:
        logger.exception("could not write the heartbeat file %s", path)


def start_heartbeat(
    sender: Any = None, *, path: Path | None = None, interval_s: float = INTERVAL_S, **_: Any
) -> None:
    """``worker_ready`` receiver: touch this process's file (``path``: another) now and then every
    ``interval_s`` on the consumer's timer.

    ``sender`` is the Celery consumer; without a timer (another signal's sender) it only touches once.
    """
    global _timer_entry, _timer_path
    path = path or heartbeat_file()
    _safe_touch(path)
    timer = getattr(sender, "timer", None)
    if timer is None or _timer_entry is not None:
        return
    _timer_entry, _timer_path = timer.call_repeatedly(interval_s, _safe_touch, (path,)), path
    logger.info("worker heartbeat: touching %s every %.0f s", path, interval_s)


def remove_heartbeat(sender: Any = None, *, path: Path | None = None, **_: Any) -> None:
    """``worker_shutdown`` receiver: delete the file so a stopping worker is not reported alive."""
    global _timer_entry, _timer_path
    path = path or _timer_path or heartbeat_file()
    if _timer_entry is not None:
        _timer_entry.cancel()
        _timer_entry, _timer_path = None, None
    path.unlink(missing_ok=True)


worker_ready.connect(start_heartbeat, weak=False)
worker_shutdown.connect(remove_heartbeat, weak=False)


def main(argv: list[str] | None = None) -> int:
    """Probe entry point: exit 0 when the heartbeat is fresh, 1 otherwise (with the reason on stderr).

    Without ``--file``: every running worker's file in the temp folder must be fresh, and there must be one.
    """
    parser = argparse.ArgumentParser(description="Exit 0 when the worker's heartbeat file is fresh.")
    parser.add_argument("--file", type=Path, help="one heartbeat file (default: every running worker's)")
    parser.add_argument("--max-age-s", type=float, default=DEFAULT_MAX_AGE_S, help="oldest fresh age, s")
    args = parser.parse_args(argv)
    files = [args.file] if args.file else live_heartbeat_files()
    if not files:
        print(f"no heartbeat file of a running worker in {heartbeat_dir()}", file=sys.stderr)
        return 1
    for path in files:
        age = heartbeat_age_s(path)
        if age is None:
            print(f"no heartbeat file at {path}", file=sys.stderr)
            return 1
        if age > args.max_age_s:
            print(
                f"{path.name}: heartbeat is {age:.0f} s old (limit {args.max_age_s:.0f} s)", file=sys.stderr
            )
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
