"""`make run`: the whole service on this machine: API, a worker and the dashboard; Ctrl-C stops all.

With no environment set it needs no servers: SQLite (var/piano_ai.db), local storage (var/storage) and
kombu's filesystem broker (var/broker). Set DATABASE_URL / REDIS_URL / PIANO_AI_STORAGE_BACKEND=gcs to
run the same code against Postgres, Redis and GCS.
"""

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD_APP = ROOT / "services/dashboard/piano_dashboard/app.py"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1", help="address the API and dashboard listen on")
    parser.add_argument("--api-port", type=int, default=8000)
    parser.add_argument("--dashboard-port", type=int, default=8501)
    parser.add_argument("--no-dashboard", action="store_true", help="start only the API and the worker")
    parser.add_argument(
        "--workers",
        type=int,
        help="worker pool processes, each loads the model (PIANO_AI_WORKER_CONCURRENCY: 1)",
    )
    return parser.parse_args(argv)


def commands(args: argparse.Namespace, queue: str, concurrency: int) -> dict[str, list[str]]:
    """The processes to start, by name."""
    python = sys.executable
    procs = {
        "api": [
            python,
            "-m",
            "uvicorn",
            "piano_api.main:app",
            "--host",
            args.host,
            "--port",
            str(args.api_port),
        ],
        "worker": [
            python,
            "-m",
            "celery",
            "-A",
            "piano_worker.celery_app:app",
            "worker",
            "-Q",
            queue,
            "--concurrency",
            str(concurrency),
            "--prefetch-multiplier",
            "1",
            "-n",
            "local@%h",
            "--loglevel",
            "INFO",
        ],  # fmt: skip
    }
    if DASHBOARD_APP.is_file() and not args.no_dashboard:
        procs["dashboard"] = [
            python, "-m", "streamlit", "run", str(DASHBOARD_APP.relative_to(ROOT)),
            "--server.port", str(args.dashboard_port), "--server.address", args.host,
            "--server.headless", "true",
        ]  # fmt: skip
    return procs


def wait_for_api(url: str, procs: dict[str, subprocess.Popen[bytes]], timeout_s: float = 60.0) -> bool:
    """Poll /healthz until it answers; False if it does not in time or a process died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs.values()):
            return False
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.3)
    return False


def stop_all(procs: dict[str, subprocess.Popen[bytes]], grace_s: float = 15.0) -> None:
    """SIGTERM each main process (Celery finishes its current job), then SIGKILL their groups."""
    for proc in procs.values():
        if proc.poll() is None:
            proc.terminate()  # not the group: Celery's pool children must hear it from their parent
    deadline = time.monotonic() + grace_s
    for proc in procs.values():
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _hide_password(url: str) -> str:
    """``url`` with any password replaced by ***, for printing."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.chdir(ROOT)  # relative defaults (var/...) live in the checkout
    from piano_ai.db.migrate import upgrade
    from piano_ai.settings import get_settings

    settings = get_settings()
    print(f"database: {_hide_password(settings.database_url)}", end="  ")
    print(f"broker: {_hide_password(settings.broker_url)}  storage: {settings.storage_backend}")
    upgrade()
    api_url = f"http://{args.host}:{args.api_port}"
    env = {**os.environ, "PIANO_AI_API_URL": api_url, "PYTHONUNBUFFERED": "1"}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    # Ctrl-C goes to the whole terminal group; we stop the children ourselves, in order.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        for name, cmd in commands(args, settings.queue, args.workers or settings.worker_concurrency).items():
            procs[name] = subprocess.Popen(cmd, env=env, start_new_session=True)
        if not wait_for_api(api_url, procs):
            print("piano-ai: the API did not start; see the log above", file=sys.stderr)
            return 1
        print(f"\n  API        {api_url}   (docs: {api_url}/docs)")
        if "dashboard" in procs:
            print(f"  Dashboard  http://{args.host}:{args.dashboard_port}")
        print("  Ctrl-C stops everything.\n", flush=True)
        while True:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    print(f"piano-ai: {name} exited with {proc.returncode}; stopping", file=sys.stderr)
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
        return 0
    finally:
        stop_all(procs)


if __name__ == "__main__":
    sys.exit(main())
