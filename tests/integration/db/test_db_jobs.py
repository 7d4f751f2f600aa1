"""The job store on real Postgres (and SQLite, the embedded default): migrations and conditional updates."""

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from service_testkit import throwaway_postgres
from sqlalchemy import event, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from piano_ai.db import jobs as job_store
from piano_ai.db import recovery, stats
from piano_ai.db.migrate import downgrade, upgrade
from piano_ai.db.models import Job, WorkerHeartbeat, utcnow
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


def test_claim_row_returns_the_claimed_row_with_its_first_stage_in_one_statement(
    sessions: sessionmaker[Session],
) -> None:
    _create(sessions, "cr1")
    with sessions() as session:
        job = job_store.claim_row(session, "cr1", "w@host/1", lease_s=30, stage="decoding")
        assert job is not None
        assert (job.id, job.status, job.attempts, job.stage, job.worker) == (
            "cr1",
            "running",
            1,
            "decoding",
            "w@host/1",
        )
        assert job.input_key == "jobs/cr1/input.wav" and job.lease_expires_at is not None
    with sessions() as session:  # what was returned is what was committed
        stored = job_store.get_job(session, "cr1")
        assert stored is not None and (stored.status, stored.attempts, stored.stage) == (
            "running",
            1,
            "decoding",
        )
        assert job_store.cancel(session, "cr1")
        assert job_store.claim_row(session, "cr1", "w@host/2") is None  # terminal: nothing to run


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


def _lapse(session: Session, *job_ids: str) -> None:
    past = utcnow() - timedelta(minutes=5)
    session.query(Job).filter(Job.id.in_(job_ids)).update({Job.lease_expires_at: past})
    session.commit()


def test_lapsed_leases_are_requeued_once_or_failed_after_max_attempts(
    sessions: sessionmaker[Session],
) -> None:
    for job_id in ("dead", "alive", "doomed"):
        _create(sessions, job_id)
    with sessions() as session:
        for job_id in ("dead", "alive", "doomed"):
            job_store.claim(session, job_id, "w@host/7", lease_s=30)
        session.query(Job).filter(Job.id == "doomed").update({Job.attempts: 8})
        session.commit()
        _lapse(session, "dead", "doomed")
        assert sorted(job_id for job_id, *_ in recovery.stale_running(session)) == ["dead", "doomed"]
        assert recovery.release_stale(session, max_attempts=8) == (["dead"], ["doomed"])
        assert recovery.release_stale(session, max_attempts=8) == ([], [])  # a second sweeper gets nothing
        dead, alive, doomed = (job_store.get_job(session, i) for i in ("dead", "alive", "doomed"))
        assert dead is not None and (dead.status, dead.worker, dead.lease_expires_at) == (
            "queued",
            None,
            None,
        )
        assert dead.enqueued_at is not None  # sent now by the caller: the lost-message sweep waits again
        assert alive is not None and alive.status == "running"  # the same worker name, its lease is fresh
        assert doomed is not None and (doomed.status, doomed.error_code) == ("failed", "worker_lost")


def test_a_retry_restarts_the_count_of_dead_runs_but_not_the_attempt_numbers(
    sessions: sessionmaker[Session],
) -> None:
    _create(sessions, "again")
    with sessions() as session:
        for _ in range(8):  # eight runs died, the last one failed the job
            last = job_store.claim(session, "again", "w", lease_s=30)
        assert last == 8 and job_store.fail(session, "again", last, "worker_lost", "died")
        assert job_store.retry(session, "again")
        job = job_store.get_job(session, "again")
        assert job is not None and (job.attempts, job.retried_at_attempt) == (8, 8)
        assert job_store.runs_since_retry(job) == 0
        run = job_store.claim(session, "again", "w", lease_s=30)
        assert run == 9  # a new number: run 8, were it still alive, can write nothing
        assert not job_store.report_progress(session, "again", 8, "inference", 0.5)
        _lapse(session, "again")
        assert recovery.stale_running(session) == [("again", 9, 1)]
        assert recovery.release_stale(session, max_attempts=8) == (["again"], [])  # one run since the retry
        for _ in range(7):  # seven more die: eight since the retry
            run = job_store.claim(session, "again", "w", lease_s=30)
        _lapse(session, "again")
        assert recovery.release_stale(session, max_attempts=8) == ([], ["again"])
        job = job_store.get_job(session, "again")
        assert job is not None and (job.status, job.attempts, job.error_code) == ("failed", 16, "worker_lost")
        assert job.error_message is not None and "8 times" in job.error_message


def test_progress_and_renewal_keep_the_lease_of_the_current_run_only(sessions: sessionmaker[Session]) -> None:
    _create(sessions, "p1")
    with sessions() as session:
        old = job_store.claim(session, "p1", "w", lease_s=30)
        _lapse(session, "p1")
        assert old is not None and job_store.report_progress(session, "p1", old, "inference", 0.5, lease_s=30)
        assert recovery.stale_running(session) == []
        _lapse(session, "p1")
        assert job_store.renew_lease(session, "p1", old, lease_s=30)
        assert recovery.stale_running(session) == []
        new = job_store.claim(session, "p1", "w2", lease_s=30)
        _lapse(session, "p1")
        assert not job_store.renew_lease(session, "p1", old, lease_s=30)  # a superseded run renews nothing
        assert recovery.stale_running(session) == [("p1", new, 2)]


def test_a_job_made_with_the_database_clock_comes_back_as_its_row_reads(
    sessions: sessionmaker[Session],
) -> None:
    """create_job's answer (built from the insert's values and RETURNING, not read back) is the row: every
    column, the sequence number and the database's send time included, in one insert and a commit."""
    statements: list[str] = []
    with sessions() as session:
        engine = session.get_bind()
        record = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", record)
        made = job_store.create_job(
            session,
            id="j1",
            filename="a.wav",
            size_bytes=3,
            params=PARAMS,
            input_key="jobs/j1/input.wav",
            owner_key_id=None,
            enqueued_at=job_store.db_now(session),
        )
        event.remove(engine, "before_cursor_execute", record)
    assert [sql.split()[0] for sql in statements] == ["INSERT"]
    with sessions() as session:
        row = job_store.get_job(session, "j1")
    assert row is not None and made.enqueued_at is not None
    columns = [column.key for column in Job.__table__.columns]
    assert {c: getattr(made, c) for c in columns} == {c: getattr(row, c) for c in columns}


def test_leases_and_send_times_use_the_database_clock(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker whose clock runs an hour fast neither keeps a dead run alive for an hour nor makes a
    fresh send look old: the lease and enqueued_at come from Postgres' now()."""
    downgrade(postgres_url)
    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    sessions = make_session_factory(engine)
    _create(sessions, "c1")
    _create(sessions, "c2")
    skewed = utcnow() + timedelta(hours=1)
    monkeypatch.setattr(job_store, "utcnow", lambda: skewed)
    with sessions() as session:
        assert job_store.mark_enqueued(session, "c2")
        attempt = job_store.claim(session, "c1", "fast-clock", lease_s=30)
        assert attempt == 1
        db_now = session.execute(text("SELECT now()")).scalar_one()
        job = job_store.get_job(session, "c1")
        assert job is not None and job.lease_expires_at is not None
        assert abs((job.lease_expires_at - db_now).total_seconds() - 30) < 5
        sent = job_store.get_job(session, "c2")
        assert sent is not None and sent.enqueued_at is not None
        assert abs((sent.enqueued_at - db_now).total_seconds()) < 5
        assert recovery.queued_unsent_since(session, older_than_s=60) == []
    engine.dispose()


@pytest.mark.parametrize("skew", [timedelta(hours=-1), timedelta(hours=1)])
def test_heartbeats_use_the_database_clock(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, skew: timedelta
) -> None:
    """A worker whose clock runs an hour slow is still listed as live, and one an hour fast is not listed
    for an hour after it dies: last_seen is Postgres' now(), and liveness is judged on the same clock."""
    downgrade(postgres_url)
    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    sessions = make_session_factory(engine)
    monkeypatch.setattr(job_store, "utcnow", lambda: utcnow() + skew)  # the worker's clock
    with sessions() as session:
        job_store.heartbeat(session, "skewed@host/1")
        job_store.heartbeat(session, "skewed@host/1")  # the update path too
    monkeypatch.undo()
    with sessions() as session:
        db_now = session.execute(text("SELECT now()")).scalar_one()
        seen = session.scalar(select(WorkerHeartbeat.last_seen))
        assert seen is not None and abs((seen - db_now).total_seconds()) < 5
        assert [w.name for w in stats.worker_stats(session, live_within_s=30)] == ["skewed@host/1"]
        session.execute(text("UPDATE worker_heartbeats SET last_seen = last_seen - interval '60 seconds'"))
        session.commit()
        assert stats.worker_stats(session, live_within_s=30) == []  # silent for a minute: not live
    engine.dispose()


def test_queued_jobs_sent_long_ago_are_resent_once(sessions: sessionmaker[Session]) -> None:
    for job_id in ("old", "fresh", "unsent", "running"):
        _create(sessions, job_id)
    with sessions() as session:
        for job_id in ("old", "fresh", "running"):
            assert job_store.mark_enqueued(session, job_id)
        job_store.claim(session, "running", "w")
        past = utcnow() - timedelta(minutes=5)
        session.query(Job).filter(Job.id.in_(["old", "running"])).update({Job.enqueued_at: past})
        session.commit()
        candidates = recovery.queued_unsent_since(session, older_than_s=60)
        assert [job_id for job_id, _ in candidates] == ["old"]  # never-sent jobs are claim_unsent's
        sent_at = candidates[0][1]
        assert recovery.mark_resent(session, "old", sent_at)
        assert not recovery.mark_resent(session, "old", sent_at)  # a second sweeper must not send it
        assert recovery.queued_unsent_since(session, older_than_s=60) == []


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


def test_migration_0006_counts_every_run_of_older_jobs(postgres_url: str) -> None:
    downgrade(postgres_url)
    upgrade(postgres_url, "0005")
    engine = make_engine(postgres_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO jobs (id, status, progress, filename, size_bytes, params, input_key, attempts,"
            " created_at, updated_at) VALUES ('old', 'failed', 0, 'a.wav', 1, '{}', 'k', 3, now(), now())"
        )
    upgrade(postgres_url)
    with engine.begin() as conn:
        row = conn.exec_driver_sql("SELECT retried_at_attempt FROM jobs WHERE id = 'old'").scalar_one()
    assert row == 0  # never retried under the column: its three runs count
    engine.dispose()
    downgrade(postgres_url, "0005")
    columns = inspect(make_engine(postgres_url)).get_columns("jobs")
    assert "retried_at_attempt" not in {c["name"] for c in columns}
