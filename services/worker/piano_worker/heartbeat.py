"""Liveness heartbeat file for the worker, checked without touching the broker.

The worker's main process touches ``HEARTBEAT_FILE`` every ``INTERVAL_S`` seconds from its own event loop
(a timer on the Celery consumer), so the file goes stale when that loop hangs, even while a long job runs in
the pool's child process. Kubernetes' exec liveness probe and the image's HEALTHCHECK only read the file's
age (``python -m piano_worker.heartbeat --max-age-s 60``): no ``celery inspect ping`` hitting Redis from
every pod every few seconds.

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

# Where the heartbeat lives: /tmp/piano-worker.heartbeat in the images and pods (/tmp is a writable emptyDir
# there); the stdlib honours TMPDIR, which the worker and its probe share, so tests can move it.
HEARTBEAT_FILE = Path(tempfile.gettempdir()) / "piano-worker.heartbeat"
INTERVAL_S = 10.0  # seconds between touches
DEFAULT_MAX_AGE_S = 60.0  # a probe fails when the file is older than this, seconds (6 missed touches)

# The consumer timer's entry while the heartbeat runs, so a second start is a no-op.
_timer_entry: Any = None


def touch_heartbeat(path: Path = HEARTBEAT_FILE) -> None:
    """Write the current Unix time to ``path`` (replacing it atomically); the probe reads its mtime."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{time.time():.3f}\n")
    os.replace(tmp, path)


def heartbeat_age_s(path: Path = HEARTBEAT_FILE, now: float | None = None) -> float | None:
    """Seconds since ``path`` was last touched, or None if it does not exist."""
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return None
    return (time.time() if now is None else now) - mtime


def is_alive(path: Path = HEARTBEAT_FILE, max_age_s: float = DEFAULT_MAX_AGE_S) -> bool:
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
    sender: Any = None, *, path: Path = HEARTBEAT_FILE, interval_s: float = INTERVAL_S, **_: Any
) -> None:
    """``worker_ready`` receiver: touch the file now and then every ``interval_s`` on the consumer's timer.

    ``sender`` is the Celery consumer; without a timer (another signal's sender) it only touches once.
    """
    global _timer_entry
    _safe_touch(path)
    timer = getattr(sender, "timer", None)
    if timer is None or _timer_entry is not None:
        return
    _timer_entry = timer.call_repeatedly(interval_s, _safe_touch, (path,))
    logger.info("worker heartbeat: touching %s every %.0f s", path, interval_s)


def remove_heartbeat(sender: Any = None, *, path: Path = HEARTBEAT_FILE, **_: Any) -> None:
    """``worker_shutdown`` receiver: delete the file so a stopping worker is not reported alive."""
    global _timer_entry
    if _timer_entry is not None:
        _timer_entry.cancel()
        _timer_entry = None
    path.unlink(missing_ok=True)


worker_ready.connect(start_heartbeat, weak=False)
worker_shutdown.connect(remove_heartbeat, weak=False)


def main(argv: list[str] | None = None) -> int:
    """Probe entry point: exit 0 when the heartbeat is fresh, 1 otherwise (with the reason on stderr)."""
    parser = argparse.ArgumentParser(description="Exit 0 when the worker's heartbeat file is fresh.")
    parser.add_argument("--file", type=Path, default=HEARTBEAT_FILE, help="heartbeat file path")
    parser.add_argument("--max-age-s", type=float, default=DEFAULT_MAX_AGE_S, help="oldest fresh age, s")
    args = parser.parse_args(argv)
    age = heartbeat_age_s(args.file)
    if age is None:
        print(f"no heartbeat file at {args.file}", file=sys.stderr)
        return 1
    if age > args.max_age_s:
        print(f"heartbeat is {age:.0f} s old (limit {args.max_age_s:.0f} s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
