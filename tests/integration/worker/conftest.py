"""A real stack for the worker tests: Postgres (throwaway database), Redis (DB 5, a queue of our own),
local storage in a temp folder, real Celery worker processes with the real model, and the API in-process.
"""

import os
import uuid
from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient
from service_testkit import (
    MAX_AUDIO_S,
    REDIS_BASE_URL,
    VISIBILITY_TIMEOUT_S,
    Stack,
    clear_service_caches,
    throwaway_postgres,
)

from piano_ai.db import session as db_session
from piano_ai.db.migrate import upgrade
from piano_ai.storage import get_storage


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
            "PIANO_AI_RESEND_UNSENT_AFTER_S": "3",
            "PIANO_AI_MAX_UPLOAD_MB": "16",
            "PIANO_AI_MAX_AUDIO_S": str(MAX_AUDIO_S),
        }
        for key, value in env.items():
            patch.setenv(key, value)
        clear_service_caches()
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
            clear_service_caches()
