"""Helpers for the job-service tests: synthetic piano-like audio and throwaway Postgres databases."""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import soundfile as sf
from sqlalchemy import create_engine, text

from piano_ai.db import jobs as job_store
from piano_ai.db import session as db_session
from piano_ai.db.models import TERMINAL_STATUSES

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from piano_ai.storage import LocalStorage

PG_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
REDIS_BASE_URL = "redis://127.0.0.1:6379/5"  # a DB number of our own on the shared Redis


def piano_clip(
    path: Path, pitches: tuple[int, ...] = (60, 64, 67), seconds: float = 2.0, sr: int = 16000
) -> Path:
    """Write a short piano-like wav: each pitch a sum of decaying harmonics, struck one after another."""
    t = np.arange(int(seconds * sr)) / sr
    audio = np.zeros_like(t)
    step = seconds / (len(pitches) + 1)
    for i, pitch in enumerate(pitches):
        f0 = 440.0 * 2 ** ((pitch - 69) / 12)
        start = i * step
        local = np.clip(t - start, 0, None)
        envelope = np.where(t >= start, np.exp(-3.0 * local), 0.0)
        for harmonic in range(1, 6):
            audio += envelope * np.sin(2 * np.pi * f0 * harmonic * local) / harmonic**1.5
    audio = 0.3 * audio / np.max(np.abs(audio))
    sf.write(path, audio.astype(np.float32), sr)
    return path


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """Create a fresh Postgres database for one test session; yields its URL; drops it afterwards."""
    name = f"piano_svc_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name}
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def gcs_emulator_server() -> Iterator[str]:
    """Run gcp-storage-emulator (in memory) on a free port; yields its URL (STORAGE_EMULATOR_HOST)."""
    import urllib.error
    import urllib.request

    port = _free_port()
    emulator = Path(sys.executable).parent / "gcp-storage-emulator"
    proc = subprocess.Popen(
        [str(emulator), "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{url}/storage/v1/b", timeout=1)
                break
            except urllib.error.HTTPError:
                break  # it answers: up
            except OSError as exc:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the GCS emulator did not start") from exc
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def create_bucket(emulator_url: str, name: str) -> None:
    """Create bucket ``name`` on the emulator."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    client = storage.Client(
        project="test", credentials=AnonymousCredentials(), client_options={"api_endpoint": emulator_url}
    )
    client.create_bucket(name)


@dataclass
class RedisServer:
    """A redis-server of a test's own, without persistence: a restart loses every message."""

    port: int
    root: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
            ],  # fmt: skip
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                redis.Redis.from_url(self.url).ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def restart(self) -> None:
        """Kill -9 and start again on the same port: an empty Redis, as after a crash without AOF."""
        self.stop()
        self.start()


@contextmanager
def redis_server(root: Path) -> Iterator[RedisServer]:
    """Run a throwaway redis-server on a free port (no persistence) for one test module."""
    server = RedisServer(port=_free_port(), root=root)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def long_clip(path: Path, seconds: float, sr: int = 16000) -> Path:
    """A long recording (cheap to make): a 4 s phrase repeated."""
    phrase = piano_clip(path, pitches=(48, 55, 60, 64, 67, 72), seconds=4.0, sr=sr)
    audio, _ = sf.read(phrase, dtype="float32")
    sf.write(path, np.tile(audio, int(np.ceil(seconds / 4.0)))[: int(seconds * sr)], sr)
    return path


@contextmanager
def storage_gone(root: Path) -> Iterator[None]:
    """Local storage at ``root`` moved away and a file in its place, as when a volume is gone: every write
    (and read) fails until the context ends."""
    moved = root.with_name(root.name + ".away")
    root.rename(moved)
    root.write_text("not a folder")
    try:
        yield
    finally:
        root.unlink()
        moved.rename(root)


def assert_storage_unavailable(response: Any) -> None:
    """``response`` (httpx) is the 503 storage_unavailable problem, with Retry-After."""
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "storage_unavailable"
    assert int(response.headers["Retry-After"]) > 0


# ---- the job-service test harnesses (fixtures live in the conftest.py files next to the tests) ----

MAX_UPLOAD_MB = 0.5  # the unit API app's upload limit
MAX_AUDIO_S = 600  # the stack's longest recording, seconds (its longest test clip is 200 s)
# The stack's workers re-queue a dead worker's job after 3 heartbeats of 2 s; Redis would redeliver it only
# after this (tests that check Redis's own redelivery start workers with a short one and no re-queueing).
VISIBILITY_TIMEOUT_S = 60


def stack_env(root: Path, database_url: str, redis_url: str, queue: str) -> dict[str, str]:
    """The environment of the worker-test stack (the fixtures add or override a few)."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PIANO_AI_QUEUE": queue,
        "PIANO_AI_STORAGE_BACKEND": "local",
        "PIANO_AI_STORAGE_DIR": str(root / "storage"),
        "PIANO_AI_VISIBILITY_TIMEOUT_S": str(VISIBILITY_TIMEOUT_S),
        "PIANO_AI_TASK_TIME_LIMIT_S": "120",
        "PIANO_AI_WORKER_HEARTBEAT_S": "2",
        # Under load (20 submissions on 2 busy cores) the API took over 3 s from the insert to recording the
        # send, and the sweep sent such a job a second time: harmless, but then it runs twice.
        "PIANO_AI_RESEND_UNSENT_AFTER_S": "10",
        "PIANO_AI_MAX_UPLOAD_MB": "16",
        "PIANO_AI_MAX_AUDIO_S": str(MAX_AUDIO_S),
        # The worker tests submit 20 jobs at once from one key; the limits have tests of their own.
        "PIANO_AI_SUBMISSIONS_PER_MINUTE": "0",
        "PIANO_AI_MAX_ACTIVE_JOBS": "0",
    }


def create_api_key(name: str, admin: bool = False) -> dict[str, str]:
    """Make an API key in the configured job store; returns the headers that send it."""
    from piano_ai.db import keys
    from piano_ai.db.session import session_scope

    with session_scope() as session:
        _, key = keys.create_key(session, name, admin=admin)
    return {"Authorization": f"Bearer {key}"}


def api_client(monkeypatch: Any, root: Path, database_url: str, queue_prefix: str, **env: str) -> Any:
    """A TestClient on an API process of its own on ``database_url`` and the shared Redis (limit counters),
    storage under ``root``; sent job ids are dropped. ``env``: more settings."""
    from fastapi.testclient import TestClient

    settings = {
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_BASE_URL,
        "PIANO_AI_QUEUE": f"{queue_prefix}_{uuid.uuid4().hex[:8]}",
        "PIANO_AI_STORAGE_DIR": str(root / "storage"),
        **env,
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PIANO_AI_STORAGE_BACKEND", raising=False)
    clear_service_caches()
    from piano_api.deps import get_enqueue
    from piano_api.main import create_app

    app = create_app()
    app.dependency_overrides[get_enqueue] = lambda: lambda job_id: None
    return TestClient(app)


def clear_service_caches() -> None:
    """Forget cached settings, engine, storage and broker client (after changing the environment)."""
    from piano_ai.settings import get_settings
    from piano_ai.storage import get_storage
    from piano_api import queue

    for cached in (
        get_settings,
        get_storage,
        db_session.get_engine,
        db_session.get_session_factory,
        queue.get_client,
    ):
        cached.cache_clear()


@dataclass
class ApiHarness:
    client: "TestClient"  # sends a plain (non-admin) API key
    storage: "LocalStorage"
    admin_headers: dict[str, str] = field(default_factory=dict)  # an admin key, for /v1/queue
    enqueued: list[str] = field(default_factory=list)
    fail_enqueue: bool = False


@dataclass
class Stack:
    """Worker processes around an in-process API client (the fixture is in tests/integration/worker)."""

    env: dict[str, str]
    root: Path
    client: "TestClient"  # sends a plain (non-admin) API key
    storage: "LocalStorage"
    admin_headers: dict[str, str] = field(default_factory=dict)  # an admin key, for /v1/queue
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start_worker(self, name: str, **env: str) -> subprocess.Popen[bytes]:
        log = (self.root / f"{name}.log").open("ab")
        tmp = self.root / f"tmp-{name}"  # own TMPDIR: the heartbeat file must not clash with other workers
        tmp.mkdir(exist_ok=True)
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "piano_worker.celery_app:app",
                "worker",
                "-n",
                f"{name}@%h",
                "--concurrency",
                "1",
                "--prefetch-multiplier",
                "1",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel",
                "INFO",
            ],  # fmt: skip
            env={**self.env, "TMPDIR": str(tmp), **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.workers[name] = proc
        return proc

    def wait_workers_ready(self, names: list[str], timeout_s: float = 120) -> None:
        """Ready = the pool process loaded the model and wrote its first heartbeat row."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            queue = self.client.get("/v1/queue", headers=self.admin_headers).json()
            seen = {w["name"].split("@")[0] for w in queue["workers"]}
            if set(names) <= seen:
                return
            for name in names:
                if self.workers[name].poll() is not None:
                    raise RuntimeError(f"worker {name} exited: see {self.root / (name + '.log')}")
            time.sleep(0.5)
        raise TimeoutError(f"workers {names} not ready")

    def kill_worker(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.workers.pop(name)
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
        proc.wait(timeout=30)

    def job(self, job_id: str) -> dict[str, Any]:
        # With the admin key: tests also poll jobs they inserted themselves, which no key owns.
        response = self.client.get(f"/v1/jobs/{job_id}", headers=self.admin_headers)
        assert response.status_code == 200, response.text
        return response.json()

    def wait_for(
        self, job_id: str, statuses: tuple[str, ...] | None = None, timeout_s: float = 120
    ) -> dict[str, Any]:
        """Poll until the job reaches one of ``statuses`` (default: any terminal one)."""
        wanted = statuses or tuple(s.value for s in TERMINAL_STATUSES)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            job = self.job(job_id)
            if job["status"] in wanted:
                return job
            time.sleep(0.05)
        raise TimeoutError(f"job {job_id} still {self.job(job_id)['status']} after {timeout_s} s")

    def rows(self) -> list[Any]:
        with db_session.get_session_factory()() as session:
            return job_store.list_jobs(session, limit=10_000)[0]


@contextmanager
def running_stack(
    root: Path, redis_url: str, workers: tuple[str, ...] = ("w1", "w2"), **overrides: str
) -> Iterator[Stack]:
    """A throwaway Postgres database, a queue of its own on ``redis_url``, local storage under ``root``,
    the API in-process and ``workers`` started and ready; the environment is ``stack_env`` + ``overrides``."""
    import pytest
    import redis
    from fastapi.testclient import TestClient

    from piano_ai.db.migrate import upgrade
    from piano_ai.storage import get_storage

    queue = f"transcribe_test_{uuid.uuid4().hex[:8]}"
    with throwaway_postgres() as database_url, pytest.MonkeyPatch.context() as patch:
        for key, value in {**stack_env(root, database_url, redis_url, queue), **overrides}.items():
            patch.setenv(key, value)
        clear_service_caches()
        upgrade()
        from piano_api.main import create_app

        client = TestClient(create_app(), headers=create_api_key("stack"))
        stack = Stack(
            env={**os.environ},
            root=root,
            client=client,
            storage=get_storage(),  # type: ignore[arg-type]
            admin_headers=create_api_key("stack-admin", admin=True),
        )
        try:
            with client:
                for name in workers:
                    stack.start_worker(name)
                stack.wait_workers_ready(list(workers))
                yield stack
        finally:
            for name in list(stack.workers):
                stack.kill_worker(name)
            try:
                redis.Redis.from_url(redis_url).delete(queue)
            except redis.ConnectionError:  # a test's own Redis, already stopped
                pass
            db_session.get_engine().dispose()
            clear_service_caches()
