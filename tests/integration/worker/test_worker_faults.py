"""No job stays non-terminal (issue 13, faults): a run whose worker stopped renewing its lease is handed to
another worker, and a queued job whose message the broker lost is sent again. Real Postgres, real worker
processes, and a redis-server of this module's own, without persistence, that a test restarts.
"""

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from service_testkit import (
    PG_ADMIN_URL,
    VISIBILITY_TIMEOUT_S,
    RedisServer,
    Stack,
    long_clip,
    piano_clip,
    redis_server,
    running_stack,
)
from sqlalchemy import create_engine, text

from piano_ai.db import jobs as job_store
from piano_ai.db import session as db_session
from piano_ai.db.models import Job
from piano_ai.settings import get_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]
LEASE_S = 6  # PIANO_AI_JOB_LEASE_S here (3 heartbeats of 2 s)
RESEND_LOST_AFTER_S = 3  # PIANO_AI_RESEND_LOST_AFTER_S here


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, RedisServer]]:
    root = tmp_path_factory.mktemp("faults")
    with redis_server(root) as server:
        overrides = {
            "PIANO_AI_JOB_LEASE_S": str(LEASE_S),
            "PIANO_AI_RESEND_LOST_AFTER_S": str(RESEND_LOST_AFTER_S),
        }
        with running_stack(root, server.url, workers=(), **overrides) as stack:
            yield stack, server


def _submit(stack: Stack, path: Path, **form: str) -> str:
    with path.open("rb") as audio:
        response = stack.client.post("/v1/jobs", files={"file": (path.name, audio)}, data=form)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def _row(job_id: str) -> Job:
    with db_session.get_session_factory()() as session:
        job = job_store.get_job(session, job_id)
    assert job is not None
    return job


def _ensure_workers(stack: Stack, names: tuple[str, ...]) -> None:
    for name in set(stack.workers) - set(names):
        stack.kill_worker(name)
    for name in set(names) - set(stack.workers):
        stack.start_worker(name)
    stack.wait_workers_ready(list(names))


def test_a_dead_run_whose_worker_name_lives_on_is_handed_over_by_its_lease(
    faults: tuple[Stack, RedisServer], tmp_path: Path
) -> None:
    """A worker container restarted in place comes back with the same host name and pool pid, so a
    heartbeat row under the dead process's name says "alive" while its job lies dead: the run's own lease,
    renewed only by the process running it, lapses, and another worker finishes the job long before
    Redis's visibility timeout would redeliver it."""
    stack, _ = faults
    _ensure_workers(stack, ("w1", "w2"))
    job_id = _submit(
        stack, long_clip(tmp_path / "victim.wav", seconds=200), score="false"
    )  # no beat tracking
    stack.wait_for(job_id, ("running",), timeout_s=60)
    dead_name = _row(job_id).worker
    assert dead_name is not None
    stack.kill_worker(dead_name.split("@")[0])
    stop = threading.Event()

    def namesake() -> None:  # the restarted process under the same name, running nothing
        while not stop.is_set():
            with db_session.get_session_factory()() as session:
                job_store.heartbeat(session, dead_name)
            stop.wait(1.0)

    thread = threading.Thread(target=namesake, daemon=True)
    thread.start()
    try:
        done = stack.wait_for(job_id, timeout_s=VISIBILITY_TIMEOUT_S - 15)
    finally:
        stop.set()
        thread.join()
    assert done["status"] == "succeeded" and done["attempts"] == 2, done
    assert _row(job_id).worker != dead_name


def test_a_message_lost_by_a_redis_restart_is_sent_again(
    faults: tuple[Stack, RedisServer], tmp_path: Path
) -> None:
    """Redis restarted without persistence loses the queue: the job stays queued with no message. A live
    worker's sweep sends it again once it has been queued for PIANO_AI_RESEND_LOST_AFTER_S with no message
    in the broker; a job whose message still waits in the queue is left alone however old."""
    from piano_api.queue import get_client
    from piano_worker import reconciler

    stack, server = faults
    _ensure_workers(stack, ())  # nobody consumes: the messages wait in Redis
    queue = get_settings().queue
    job_id = _submit(stack, piano_clip(tmp_path / "lost.wav", pitches=(55, 62)))
    with db_session.get_session_factory()() as session:  # as if it had waited in a long backlog
        old = _row(job_id).enqueued_at
        assert old is not None
        session.query(Job).filter(Job.id == job_id).update({Job.enqueued_at: old - timedelta(minutes=10)})
        session.commit()
        assert job_id in (reconciler.live_job_ids(get_client(), queue) or set())
        assert reconciler.resend_lost(get_client(), session, RESEND_LOST_AFTER_S, queue) == []
    assert redis.Redis.from_url(server.url).llen(queue) == 1  # not sent twice
    server.restart()  # the message is gone; the row still says queued
    assert redis.Redis.from_url(server.url).llen(queue) == 0
    _ensure_workers(stack, ("w1",))
    done = stack.wait_for(job_id, timeout_s=60)
    assert done["status"] == "succeeded" and done["attempts"] == 1, done
    time.sleep(3 * RESEND_LOST_AFTER_S)  # later sweeps find nothing to send: it ran once
    assert stack.job(job_id)["attempts"] == 1
    log = (stack.root / "w1.log").read_text()
    assert log.count(f"job {job_id}: queued since") == 1


def test_a_flushdb_under_connected_workers_loses_no_job(
    faults: tuple[Stack, RedisServer], tmp_path: Path
) -> None:
    """FLUSHDB empties Redis while a worker is busy and stays connected (nothing restarts or reconnects):
    the waiting job's message and the running job's unacknowledged copy are gone. The busy worker's own
    sweep sends the waiting job again once it has been queued PIANO_AI_RESEND_LOST_AFTER_S (3 s here,
    120 s by default) with no message, and runs it next; the running job finishes and acknowledges."""
    stack, server = faults
    _ensure_workers(stack, ("w1",))
    queue = get_settings().queue
    broker = redis.Redis.from_url(server.url)
    # Beat tracking (score) keeps w1 busy for several seconds: the next job must wait in the queue.
    busy = _submit(stack, long_clip(tmp_path / "busy.wav", seconds=60), score="true")
    stack.wait_for(busy, ("running",), timeout_s=60)
    waiting = _submit(stack, piano_clip(tmp_path / "waiting.wav", pitches=(57, 64)))
    assert broker.llen(queue) == 1 and broker.hlen("unacked") == 1  # waiting's message; busy's copy
    assert stack.job(busy)["status"] == "running"
    flushed_at = time.monotonic()
    assert broker.flushdb()
    assert broker.llen(queue) == 0 and broker.hlen("unacked") == 0
    done = [stack.wait_for(job_id, timeout_s=120) for job_id in (busy, waiting)]
    assert [(job["status"], job["attempts"]) for job in done] == [("succeeded", 1)] * 2, done
    assert time.monotonic() - flushed_at < 120
    log = (stack.root / "w1.log").read_text()
    assert log.count(f"job {waiting}: queued since") == 1  # sent again once, by the sweep
    assert f"job {busy}: queued since" not in log


def test_a_two_minute_database_outage_leaves_no_job_unfinished(
    faults: tuple[Stack, RedisServer], tmp_path: Path
) -> None:
    """Postgres refuses every connection for 120 s while one job runs and three wait: the workers give up
    retrying after about a minute and acknowledge the messages, leaving a `running` row without a live run
    and `queued` rows without a message. Once the database is back, the lapsed lease and the lost-message
    sweep send them again, and every job finishes."""
    stack, _ = faults
    _ensure_workers(stack, ("w1",))
    running = _submit(stack, long_clip(tmp_path / "long.wav", seconds=200), score="false")
    stack.wait_for(running, ("running",), timeout_s=60)
    waiting = [_submit(stack, piano_clip(tmp_path / f"w{i}.wav", pitches=(50 + i, 57 + i))) for i in range(3)]
    name = get_settings().database_url.rsplit("/", 1)[1]
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false'))
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name}
            )
        time.sleep(120)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))
        admin.dispose()
    done = [stack.wait_for(job_id, timeout_s=120) for job_id in [running, *waiting]]
    assert [job["status"] for job in done] == ["succeeded"] * 4, done


def _live_workers(stack: Stack) -> tuple[set[str], float]:
    """(the worker names /v1/queue lists, /metrics' piano_workers_alive)."""
    names = {
        w["name"].split("@")[0]
        for w in stack.client.get("/v1/queue", headers=stack.admin_headers).json()["workers"]
    }
    (alive,) = [
        line.split()[1]
        for line in stack.client.get("/metrics").text.splitlines()
        if line.startswith("piano_workers_alive ")
    ]
    return names, float(alive)


def _until(check: Callable[[], bool], timeout_s: float) -> float:
    """Seconds until ``check()`` holds; AssertionError after ``timeout_s``."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout_s, f"still not so after {timeout_s} s"
        time.sleep(0.2)
    return time.monotonic() - start


def test_only_live_worker_processes_are_counted_each_with_its_own_heartbeat_file(
    faults: tuple[Stack, RedisServer], tmp_path: Path
) -> None:
    """Two workers on one machine share /tmp but not a heartbeat file, and the probe checks both; a stopped
    worker leaves the count as it stops (it removes its row), a killed one within 3 heartbeats + 5 s."""
    stack, _ = faults
    _ensure_workers(stack, ())
    try:
        _live_worker_count_and_heartbeat_files(stack, tmp_path)
    finally:  # the next tests start their own w1, with its own TMPDIR
        _ensure_workers(stack, ())


def _live_worker_count_and_heartbeat_files(stack: Stack, tmp_path: Path) -> None:
    # a worker an earlier test killed stays live for 3 heartbeats + 5 s: let it age out first
    _until(lambda: _live_workers(stack) == (set(), 0.0), timeout_s=30)
    shared_tmp = tmp_path / "tmp"
    shared_tmp.mkdir()
    for name in ("w1", "w2"):
        stack.start_worker(name, TMPDIR=str(shared_tmp))
    stack.wait_workers_ready(["w1", "w2"])

    def files() -> list[Path]:
        return sorted(shared_tmp.glob("piano-worker-*.heartbeat"))

    _until(lambda: len(files()) == 2, timeout_s=30)
    probe = [sys.executable, "-m", "piano_worker.heartbeat", "--max-age-s", "60"]
    assert subprocess.run(probe, env={**stack.env, "TMPDIR": str(shared_tmp)}, timeout=60).returncode == 0
    assert _live_workers(stack) == ({"w1", "w2"}, 2.0)
    stack.kill_worker("w2", signal.SIGTERM)
    _until(lambda: _live_workers(stack) == ({"w1"}, 1.0), timeout_s=60)  # a warm shutdown; CI is loaded
    _until(lambda: len(files()) == 1, timeout_s=30)
    stack.kill_worker("w1")  # SIGKILL: its row stays, and ages out of the live window
    live_s = 3 * 2 + 5  # PIANO_AI_WORKER_HEARTBEAT_S is 2 here
    assert _until(lambda: _live_workers(stack) == (set(), 0.0), timeout_s=live_s + 10) <= live_s + 10
    failed = subprocess.run(probe, env={**stack.env, "TMPDIR": str(shared_tmp)}, timeout=60)
    assert failed.returncode != 0  # no running worker left: the probe fails


def test_a_killed_runs_scratch_folder_is_removed_when_its_worker_comes_back(
    faults: tuple[Stack, RedisServer], tmp_path: Path
) -> None:
    """SIGKILL mid-job leaves the run's scratch folder (its TemporaryDirectory never exits); the next
    pool process on that machine removes it at start, and the job itself finishes through its lease."""
    stack, _ = faults
    _ensure_workers(stack, ("w1",))
    job_id = _submit(stack, long_clip(tmp_path / "scratch.wav", seconds=90), score="false")
    stack.wait_for(job_id, ("running",), timeout_s=60)
    scratch = stack.root / "tmp-w1"  # w1's TMPDIR
    deadline = time.monotonic() + 30
    while not (left := list(scratch.glob("piano-job-*"))) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert left, "the run made no scratch folder"
    stack.kill_worker("w1")
    assert all(path.is_dir() for path in left)  # killed: nothing cleaned up
    stack.start_worker("w1")
    deadline = time.monotonic() + 120
    while any(path.exists() for path in left) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(path.exists() for path in left), left
    done = stack.wait_for(job_id, timeout_s=180)
    assert done["status"] == "succeeded" and done["attempts"] == 2, done
