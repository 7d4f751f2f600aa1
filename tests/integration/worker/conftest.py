"""A real stack for the worker tests: Postgres (throwaway database), Redis (DB 5, a queue of our own),
local storage in a temp folder, real Celery worker processes with the real model, and the API in-process.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from service_testkit import REDIS_BASE_URL, throwaway_postgres

from piano_ai.db import jobs as job_store
from piano_ai.db import session as db_session
from piano_ai.db.migrate import upgrade
from piano_ai.db.models import TERMINAL_STATUSES
from piano_ai.settings import get_settings
from piano_ai.storage import LocalStorage, get_storage

VISIBILITY_TIMEOUT_S = 15  # a killed worker's job is redelivered after this (the tests' jobs take < 10 s)


def clear_caches() -> None:
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
class Stack:
    env: dict[str, str]
    root: Path
    client: TestClient
    storage: LocalStorage
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start_worker(self, name: str) -> subprocess.Popen[bytes]:
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
                "--loglevel",
                "INFO",
            ],  # fmt: skip
            env={**self.env, "TMPDIR": str(tmp)},
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
            queue = self.client.get("/v1/queue").json()
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
        response = self.client.get(f"/v1/jobs/{job_id}")
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


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("stack")
    queue = f"transcribe_test_{uuid.uuid4().hex[:8]}"
    with throwaway_postgres() as database_url, pytest.MonkeyPatch.context() as patch:
        env = {
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_BASE_URL,
            "PIANO_AI_QUEUE": queue,
            "PIANO_AI_STORAGE_BACKEND": "local",
            "PIANO_AI_STORAGE_DIR": str(root / "storage"),
            "PIANO_AI_VISIBILITY_TIMEOUT_S": str(VISIBILITY_TIMEOUT_S),
            "PIANO_AI_TASK_TIME_LIMIT_S": "120",
            "PIANO_AI_WORKER_HEARTBEAT_S": "2",
            "PIANO_AI_MAX_UPLOAD_MB": "16",
        }
        for key, value in env.items():
            patch.setenv(key, value)
        clear_caches()
        upgrade()
        from piano_api.main import create_app

        client = TestClient(create_app())
        stack = Stack(env={**os.environ}, root=root, client=client, storage=get_storage())  # type: ignore[arg-type]
        try:
            with client:
                stack.start_worker("w1")
                stack.start_worker("w2")
                stack.wait_workers_ready(["w1", "w2"])
                yield stack
        finally:
            for name in list(stack.workers):
                stack.kill_worker(name)
            redis.Redis.from_url(REDIS_BASE_URL).delete(queue)
            db_session.get_engine().dispose()
            clear_caches()
