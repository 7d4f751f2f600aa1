"""`make run` (scripts/run_local.py) on the embedded default: no servers, API keys made on the first start,
a file converts at once, a killed pool process's job is finished by its replacement, Ctrl-C stops
everything."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from service_testkit import long_clip, piano_clip

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


KEY: dict[str, str] = {}  # the keys make run made (curl's, the dashboard's), read from their files


def _request(url: str, key: str = "curl") -> urllib.request.Request:
    return urllib.request.Request(url, headers={"Authorization": f"Bearer {KEY[key]}"})


def _get(url: str, key: str = "curl") -> Any:
    with urllib.request.urlopen(_request(url, key), timeout=5) as response:
        return json.loads(response.read())


def _submit(api: str, path: Path) -> dict[str, Any]:
    # The README's curl line
    command = ["curl", "-sf", "-H", f"Authorization: Bearer {KEY['curl']}", "-F", f"file=@{path}"]
    result = subprocess.run([*command, f"{api}/v1/jobs"], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def _wait(api: str, job_id: str, statuses: tuple[str, ...], timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = _get(f"{api}/v1/jobs/{job_id}")
        if job["status"] in statuses:
            return job
        time.sleep(0.1)
    raise TimeoutError(f"job {job_id} is {job['status']}")


def test_make_run_converts_a_file_survives_a_killed_pool_process_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    api_port, dash_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "PIANO_AI_STORAGE_BACKEND")}
    env |= {
        "DATABASE_URL": f"sqlite:///{tmp_path}/piano_ai.db",
        "PIANO_AI_STORAGE_DIR": str(tmp_path / "storage"),
        "PIANO_AI_BROKER_DIR": str(tmp_path / "broker"),
        "PIANO_AI_WORKER_HEARTBEAT_S": "2",
        "PIANO_AI_LOCAL_KEYS_DIR": str(tmp_path / "keys"),
        "TMPDIR": str(tmp_path),
    }
    log = (tmp_path / "run.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "scripts/run_local.py",
            "--api-port",
            str(api_port),
            "--dashboard-port",
            str(dash_port),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    api = f"http://127.0.0.1:{api_port}"
    try:
        deadline = time.monotonic() + 120
        while f"API        {api}" not in (tmp_path / "run.log").read_text():
            assert proc.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "make run did not print its URLs"
            time.sleep(0.5)
        assert f"Dashboard  http://127.0.0.1:{dash_port}" in (tmp_path / "run.log").read_text()
        for name in ("curl", "dashboard"):
            KEY[name] = (tmp_path / "keys" / f"{name}.key").read_text().strip()
        assert f"API key    {KEY['curl']}" in (tmp_path / "run.log").read_text()  # printed on first start
        assert (tmp_path / "keys" / "dashboard.key").stat().st_mode & 0o777 == 0o600
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{api}/v1/jobs", timeout=5)
        assert refused.value.code == 401

        job = _submit(api, piano_clip(tmp_path / "clip.wav"))
        done = _wait(api, job["id"], ("succeeded", "failed"))
        assert done["status"] == "succeeded", done
        midi = urllib.request.urlopen(_request(f"{api}/v1/jobs/{job['id']}/midi"), timeout=5).read()
        assert midi.startswith(b"MThd")
        with urllib.request.urlopen(f"http://127.0.0.1:{dash_port}/", timeout=10) as page:
            assert page.status == 200
        assert _oversized_upload_status(api_port) == 413

        # kill -9 the pool process in the middle of a job: Celery replaces it and the job is re-run.
        job = _submit(api, long_clip(tmp_path / "long.wav", seconds=200))
        running = _wait(api, job["id"], ("running", "succeeded"))
        assert running["status"] == "running", "the job finished before it could be interrupted"
        rows = _get(f"{api}/v1/queue", "dashboard")["workers"]  # an admin key's view
        assert rows, "no worker heartbeat"
        pool_pid = int(_job_worker(tmp_path, job["id"]).rsplit("/", 1)[1])
        os.kill(pool_pid, signal.SIGKILL)
        done = _wait(api, job["id"], ("succeeded", "failed"), timeout_s=180)
        assert done["status"] == "succeeded" and done["attempts"] == 2, done
    finally:
        proc.send_signal(signal.SIGINT)  # what Ctrl-C does
        proc.wait(timeout=60)
        log.close()
    text = (tmp_path / "run.log").read_text()
    assert "stopping..." in text
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{api}/healthz", timeout=2)


def _oversized_upload_status(port: int) -> int:
    """Announce a 300 MB upload, send 1 KB of it: the API must answer 413 without waiting for the rest."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        head = (
            "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            f"Authorization: Bearer {KEY['curl']}\r\n"
            f"Content-Length: {300 * 1024 * 1024}\r\n\r\n"
        )
        sock.sendall(head.encode() + b"--b\r\n" + b"\x00" * 1024)
        status_line = sock.recv(4096).split(b"\r\n", 1)[0]  # times out (fails) if the API waits for the body
    return int(status_line.split()[1])


def _job_worker(tmp_path: Path, job_id: str) -> str:
    import sqlite3

    with sqlite3.connect(tmp_path / "piano_ai.db") as db:
        (worker,) = db.execute("SELECT worker FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return str(worker)
