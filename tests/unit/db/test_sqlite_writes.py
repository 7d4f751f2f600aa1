"""SQLite writers of one process queue on a lock: a second writer waits for the first to commit instead of
failing or sleeping in SQLite's busy handler."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, text

from piano_ai.db.session import make_engine


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path}/w.db")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER PRIMARY KEY)"))
    return engine


def _impatient(engine: Engine) -> Connection:
    """A connection whose busy handler gives up at once: only the process's lock can make it wait."""
    conn = engine.connect()
    conn.exec_driver_sql("PRAGMA busy_timeout=0")
    return conn


def _insert_in_thread(engine: Engine, value: int) -> tuple[threading.Thread, list[BaseException | None]]:
    outcome: list[BaseException | None] = []

    def write() -> None:
        with _impatient(engine) as conn:
            try:
                conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": value})
                conn.commit()
                outcome.append(None)
            except BaseException as exc:  # noqa: BLE001 - reported to the test thread
                outcome.append(exc)

    thread = threading.Thread(target=write)
    thread.start()
    return thread, outcome


def test_a_second_writer_waits_for_the_first_to_commit(engine: Engine) -> None:
    with engine.connect() as first:
        first.execute(text("INSERT INTO t VALUES (1)"))  # holds SQLite's write lock, uncommitted
        thread, outcome = _insert_in_thread(engine, 2)
        thread.join(timeout=0.5)
        assert thread.is_alive() and outcome == []  # waiting, not failed with "database is locked"
        first.commit()
    thread.join(timeout=10)
    assert outcome == [None]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT x FROM t ORDER BY x")).scalars().all() == [1, 2]


@pytest.mark.parametrize("end", ["rollback", "failed_write", "close"])
def test_the_lock_is_given_back_however_the_transaction_ends(engine: Engine, end: str) -> None:
    first = engine.connect()
    first.execute(text("INSERT INTO t VALUES (1)"))
    if end == "rollback":
        first.rollback()
    elif end == "failed_write":
        with pytest.raises(Exception, match="UNIQUE"):
            first.execute(text("INSERT INTO t VALUES (1)"))
        first.rollback()
    else:
        first.close()
    thread, outcome = _insert_in_thread(engine, 2)
    thread.join(timeout=10)
    assert outcome == [None]
    first.close()


def test_reads_do_not_wait_for_a_writer(engine: Engine) -> None:
    with engine.connect() as writer, _impatient(engine) as reader:
        writer.execute(text("INSERT INTO t VALUES (1)"))
        assert reader.execute(text("SELECT count(*) FROM t")).scalar() == 0  # WAL: the last commit's view
        writer.commit()


_OTHER_PROCESS_INSERT = """
import sys
from sqlalchemy import text
from piano_ai.db.session import make_engine
engine = make_engine(sys.argv[1])
with engine.connect() as conn:
    conn.exec_driver_sql("PRAGMA busy_timeout=0")
    conn.execute(text("INSERT INTO t VALUES (2)"))
    conn.commit()
"""


def test_a_writer_in_another_process_waits_too(engine: Engine) -> None:
    """Across processes (the API's and a worker's) writers queue on the lock file, not SQLite's busy
    handler: with that handler off, the other process's insert would fail with "database is locked"."""
    with engine.connect() as first:
        first.execute(text("INSERT INTO t VALUES (1)"))
        other = subprocess.Popen(
            [sys.executable, "-c", _OTHER_PROCESS_INSERT, str(engine.url)],
            stderr=subprocess.PIPE,
            text=True,
        )
        with pytest.raises(subprocess.TimeoutExpired):
            other.wait(timeout=1.5)  # waiting for the lock, not failed
        first.commit()
    _, stderr = other.communicate(timeout=30)
    assert other.returncode == 0, stderr
    with engine.connect() as conn:
        assert conn.execute(text("SELECT x FROM t ORDER BY x")).scalars().all() == [1, 2]


def test_a_forked_child_takes_the_lock_for_itself(engine: Engine) -> None:
    """A child forked from a process that has used the lock (Celery's prefork pool) gets a lock of its own:
    sharing the parent's lock file descriptor, it would share its flock and write while the parent does."""
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))  # this process's lock is made and its file opened
    go_read, go_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: waits for the parent to hold the lock, then writes through a fresh engine
        code = 1
        try:
            os.close(go_write)
            os.read(go_read, 1)
            child = make_engine(str(engine.url))
            with child.connect() as conn:
                conn.exec_driver_sql("PRAGMA busy_timeout=0")
                conn.execute(text("INSERT INTO t VALUES (3)"))
                conn.commit()
            code = 0
        except BaseException as exc:  # noqa: BLE001 - the exit code tells the parent
            print(repr(exc), file=sys.stderr)
        finally:
            os._exit(code)
    os.close(go_read)
    with engine.connect() as first:
        first.execute(text("INSERT INTO t VALUES (2)"))  # holds the lock, uncommitted
        os.write(go_write, b"x")
        time.sleep(1.5)
        assert os.waitpid(pid, os.WNOHANG) == (0, 0)  # still waiting
        first.commit()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    with engine.connect() as conn:
        assert conn.execute(text("SELECT x FROM t ORDER BY x")).scalars().all() == [1, 2, 3]
