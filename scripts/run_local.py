"""`make run`: the whole service on this machine: API, a worker and the dashboard; Ctrl-C stops all.

With no environment set it needs no servers: SQLite (var/piano_ai.db), local storage (var/storage) and
kombu's filesystem broker (var/broker). Set DATABASE_URL / REDIS_URL / PIANO_AI_STORAGE_BACKEND=gcs to
run the same code against Postgres, Redis and GCS.

On its first start it makes two API keys and keeps them in PIANO_AI_LOCAL_KEYS_DIR (var/keys, mode 0600):
an admin key for the dashboard, and one it prints for curl (`export KEY=$(cat var/keys/curl.key)`).
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
            "piano_api.serve",
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
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
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


def local_key(keys_dir: Path, name: str, admin: bool) -> tuple[str, bool]:
    """The key kept in keys_dir/<name>.key, made (and the file written, 0600) when it is missing or no
    longer works (a new database, a revoked key); returns (key, made now)."""
    import secrets

    from piano_ai.db import keys
    from piano_ai.db.session import session_scope

    path = keys_dir / f"{name}.key"
    with session_scope() as session:
        if path.is_file() and keys.authenticate(session, kept := path.read_text().strip()) is not None:
            return kept, False
        try:
            _, key = keys.create_key(session, name, admin=admin)
        except keys.KeyNameTakenError:  # the file is gone but the name is not: a name of its own
            _, key = keys.create_key(session, f"{name}-{secrets.token_hex(3)}", admin=admin)
    keys_dir.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
        file.write(key + "\n")
    return key, True


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
    curl_key: tuple[str, bool] | None = None
    dashboard_env = dict(env)
    if settings.auth == "required":
        dashboard_env["PIANO_AI_API_KEY"] = local_key(settings.local_keys_dir, "dashboard", admin=True)[0]
        curl_key = local_key(settings.local_keys_dir, "curl", admin=False)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    # Ctrl-C goes to the whole terminal group; we stop the children ourselves, in order. SIGINT is handled
    # even when it was ignored at start (a job started with `&` by a shell without job control ignores it).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        for name, cmd in commands(args, settings.queue, args.workers or settings.worker_concurrency).items():
            procs[name] = subprocess.Popen(
                cmd, env=dashboard_env if name == "dashboard" else env, start_new_session=True
            )
        if not wait_for_api(api_url, procs):
            print("piano-ai: the API did not start; see the log above", file=sys.stderr)
            return 1
        print(f"\n  API        {api_url}   (docs: {api_url}/docs)")
        if "dashboard" in procs:
            print(f"  Dashboard  http://{args.host}:{args.dashboard_port}")
        if curl_key is not None:
            key_file = settings.local_keys_dir / "curl.key"
            shown = f"{curl_key[0]}  (new; kept in {key_file})" if curl_key[1] else f"in {key_file}"
            print(f"  API key    {shown}")
            print(f'             export KEY=$(cat {key_file}); curl -H "Authorization: Bearer $KEY" ...')
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
