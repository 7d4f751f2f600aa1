"""The job store on real Postgres (and SQLite, the embedded default): migrations and conditional updates."""

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from service_testkit import throwaway_postgres
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from piano_ai.db import jobs as job_store
from piano_ai.db.migrate import downgrade, upgrade
from piano_ai.db.models import Job, utcnow
from piano_ai.db.session import make_engine, make_session_factory

pytestmark = pytest.mark.integration
PARAMS = {"onset_threshold": 0.5, "frame_threshold": 0.3, "offset_threshold": 0.5, "min_note_ms": 30.0}


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with throwaway_postgres() as url:
        yield url


@pytest.fixture(params=["postgres", "sqlite"])
def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        downgrade(url)  # a clean schema per test
    else:
        url = f"sqlite:///{tmp_path}/jobs.db"
    upgrade(url)
    engine = make_engine(url)
    yield make_session_factory(engine)
    engine.dispose()


def _create(sessions: sessionmaker[Session], job_id: str, **extra: object) -> Job:
    with sessions() as session:
        return job_store.create_job(
            session,
            id=job_id,
            filename="a.wav",
            size_bytes=1,
            params=PARAMS,
            input_key=f"jobs/{job_id}/input.wav",
            **extra,
        )


def test_migrations_create_the_tables_and_go_back(postgres_url: str) -> None:
    downgrade(postgres_url)
    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    tables = set(inspect(engine).get_table_names())
    assert {"jobs", "worker_heartbeats", "alembic_version"} <= tables
    downgrade(postgres_url)
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    upgrade(postgres_url)
    engine.dispose()


def test_concurrent_claims_get_distinct_attempts_and_only_the_last_can_finish(
    sessions: sessionmaker[Session],
) -> None:
    _create(sessions, "j1")
    attempts: list[int | None] = []
    barrier = threading.Barrier(6)

    def claim(n: int) -> None:
        with sessions() as session:
            barrier.wait()
            attempts.append(job_store.claim(session, "j1", f"w{n}"))

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a for a in attempts if a is not None) == [1, 2, 3, 4, 5, 6]
    with sessions() as session:
        assert [job_store.succeed(session, "j1", a, note_count=a) for a in range(1, 7)] == [False] * 5 + [
            True
        ]
        job = job_store.get_job(session, "j1")
        assert job is not None and (job.status, job.attempts, job.note_count) == ("succeeded", 6, 6)
        assert job_store.claim(session, "j1", "late") is None  # terminal: a redelivery is skipped


def _race_cancel_and_finish(sessions: sessionmaker[Session], job_id: str, attempt: int) -> dict[str, bool]:
    results: dict[str, bool] = {}
    barrier = threading.Barrier(2)

    def cancel() -> None:
        with sessions() as session:
            barrier.wait()
            results["cancel"] = job_store.cancel(session, job_id)

    def finish() -> None:
        with sessions() as session:
            barrier.wait()
            results["finish"] = job_store.succeed(session, job_id, attempt, note_count=1)

    threads = [threading.Thread(target=cancel), threading.Thread(target=finish)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_cancel_and_finish_race_has_one_winner(sessions: sessionmaker[Session]) -> None:
    for n in range(10):
        _create(sessions, f"r{n}")
        with sessions() as session:
            attempt = job_store.claim(session, f"r{n}", "w")
        assert attempt is not None
        results = _race_cancel_and_finish(sessions, f"r{n}", attempt)
        assert sorted(results.values()) == [False, True]
        with sessions() as session:
            job = job_store.get_job(session, f"r{n}")
            assert job is not None
            assert job.status == ("canceled" if results["cancel"] else "succeeded")


def test_idempotency_key_is_unique(sessions: sessionmaker[Session]) -> None:
    _create(sessions, "i1", idempotency_key="k")
    with pytest.raises(IntegrityError):
        _create(sessions, "i2", idempotency_key="k")
    with sessions() as session:
        job = job_store.get_job_by_idempotency_key(session, "k")
        assert job is not None and job.id == "i1"


def test_orphans_of_dead_workers_are_requeued_once(sessions: sessionmaker[Session]) -> None:
    _create(sessions, "o1")
    _create(sessions, "o2")
    with sessions() as session:
        job_store.heartbeat(session, "dead")
        job_store.heartbeat(session, "alive")
        job_store.claim(session, "o1", "dead")
        job_store.claim(session, "o2", "alive")
        past = utcnow() - timedelta(minutes=5)
        session.query(Job).update({Job.updated_at: past})
        from piano_ai.db.models import WorkerHeartbeat

        session.query(WorkerHeartbeat).filter(WorkerHeartbeat.name == "dead").update(
            {WorkerHeartbeat.last_seen: past}
        )
        session.commit()
        assert job_store.requeue_orphans(session, dead_after_s=60) == ["o1"]
        assert job_store.requeue_orphans(session, dead_after_s=60) == []
        job = job_store.get_job(session, "o1")
        assert job is not None and (job.status, job.worker) == ("queued", None)


def test_delete_only_terminal(sessions: sessionmaker[Session]) -> None:
    _create(sessions, "d1")
    with sessions() as session:
        assert not job_store.delete_job(session, "d1")
        assert job_store.cancel(session, "d1")
        assert job_store.delete_job(session, "d1")
        assert job_store.get_job(session, "d1") is None


def test_unsent_jobs_are_claimed_once_after_the_grace(sessions: sessionmaker[Session]) -> None:
    for job_id in ("sent", "unsent", "young", "canceled"):
        _create(sessions, job_id)
    with sessions() as session:
        assert job_store.mark_enqueued(session, "sent")
        assert not job_store.mark_enqueued(session, "sent")  # already recorded
        assert job_store.cancel(session, "canceled")
        past = utcnow() - timedelta(minutes=5)
        session.query(Job).filter(Job.id != "young").update({Job.created_at: past})
        session.commit()
        assert job_store.claim_unsent(session, older_than_s=60) == ["unsent"]
        assert job_store.claim_unsent(session, older_than_s=60) == []  # a second sweeper gets nothing
        assert job_store.unmark_enqueued(session, "unsent")  # its send failed: the next sweep retries
        assert job_store.claim_unsent(session, older_than_s=60) == ["unsent"]


def test_migration_0002_backfills_enqueued_at(postgres_url: str) -> None:
    downgrade(postgres_url)
    upgrade(postgres_url, "0001")
    engine = make_engine(postgres_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO jobs (id, status, progress, filename, size_bytes, params, input_key, attempts,"
            " created_at, updated_at) VALUES ('old', 'queued', 0, 'a.wav', 1, '{}', 'k', 0, now(), now())"
        )
    upgrade(postgres_url)
    with engine.begin() as conn:
        row = conn.exec_driver_sql("SELECT enqueued_at = created_at FROM jobs WHERE id = 'old'").scalar_one()
    assert row is True  # a job from before the column was sent: the sweep must leave it alone
    engine.dispose()
    downgrade(postgres_url, "0001")
    assert "enqueued_at" not in {c["name"] for c in inspect(make_engine(postgres_url)).get_columns("jobs")}
