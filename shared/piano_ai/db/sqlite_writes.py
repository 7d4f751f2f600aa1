"""SQLite connections whose writers queue on a lock instead of sleeping in SQLite.

SQLite lets one connection write at a time. Another that tries meanwhile gets SQLITE_BUSY, and its busy
handler sleeps 1, 2, 5, 10 ... up to 100 ms between tries, so with 20 concurrent submits a write can wait
far longer than the writes ahead of it take (measured: p99 1.7-2.2 s against 0.8-1.2 s queued, 20 threads
each doing a job's insert and sent mark, scripts/bench_service.py's load). Here a connection takes the
database's write lock at its first INSERT/UPDATE/DELETE and gives it back when the transaction ends
(commit, rollback or close), so writers wait their turn and go as soon as it comes. The lock is a thread
lock within a process and, for a database file, an ``flock`` on ``<file>-writers.lock`` across processes
(the API's, the workers', the CLI's), which the kernel releases when a process dies.
"""

import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from typing import Any

WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE")
LOCK_TIMEOUT_S = 30.0  # as long as the busy timeout; then "database is locked", as SQLite would say
LOCK_POLL_S = (0.0002, 0.002)  # while another process writes: first and longest sleep between tries


class WriteLock:
    """One database's write lock: this process's threads queue on a thread lock, then the process takes
    an exclusive ``flock`` on the lock file (``lock_path`` None: in-memory, no other process can write)."""

    def __init__(self, lock_path: str | None) -> None:
        self.threads = threading.Lock()
        self.lock_path = lock_path
        self._fd: int | None = None

    def acquire(self, timeout: float = LOCK_TIMEOUT_S) -> bool:
        """Take the lock within ``timeout`` seconds; False when it stayed taken."""
        deadline = time.monotonic() + timeout
        if not self.threads.acquire(timeout=timeout):
            return False
        if self.lock_path is None:
            return True
        try:
            if self._fd is None:
                self._fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            pause = LOCK_POLL_S[0]
            while True:  # flock has no timeout: try, and sleep briefly while another process writes
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return True
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        self.threads.release()
                        return False
                    time.sleep(pause)
                    pause = min(pause * 2, LOCK_POLL_S[1])
        except BaseException:
            self.threads.release()
            raise

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self.threads.release()


_locks: dict[str, WriteLock] = {}  # database path -> its writers' lock in this process
_locks_guard = threading.Lock()


def _forget_locks() -> None:
    """In a forked child: the parent's locks (maybe held, sharing the parent's flock) are not its own."""
    global _locks_guard
    _locks.clear()
    _locks_guard = threading.Lock()


os.register_at_fork(after_in_child=_forget_locks)


def _lock_path(database: str) -> str | None:
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return os.path.abspath(database) + "-writers.lock"


def _lock_for(database: str) -> WriteLock:
    with _locks_guard:
        if database not in _locks:
            _locks[database] = WriteLock(_lock_path(database))
        return _locks[database]


class QueuedWritesConnection(sqlite3.Connection):
    """A sqlite3 connection (``sqlite3.connect(path, factory=QueuedWritesConnection)``) that holds the
    database's write lock while a write transaction is open."""

    def __init__(self, database: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        # Not reentrant: the thread that ends a transaction need not be the one that began it.
        self._write_lock = _lock_for(str(database))
        self._writing = False

    def cursor(self, factory: Any = None) -> sqlite3.Cursor:  # type: ignore[override]
        return super().cursor(factory or _QueuedWritesCursor)

    def take_write_lock(self, sql: str) -> None:
        """Wait for the write lock if ``sql`` writes and this connection does not hold it yet."""
        if self._writing or not sql.lstrip()[:8].upper().startswith(WRITE_VERBS):
            return
        if not self._write_lock.acquire(timeout=LOCK_TIMEOUT_S):
            raise sqlite3.OperationalError("database is locked (another writer held it too long)")
        self._writing = True

    def release_if_done(self) -> None:
        """Give the lock back if no transaction is open (a write in autocommit mode commits itself)."""
        if self._writing and not self.in_transaction:
            self._release()

    def _release(self) -> None:
        if self._writing:
            self._writing = False
            self._write_lock.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._release()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._release()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._release()


class _QueuedWritesCursor(sqlite3.Cursor):
    connection: QueuedWritesConnection

    def execute(self, sql: str, parameters: Any = (), /) -> "_QueuedWritesCursor":
        self.connection.take_write_lock(sql)
        try:
            return super().execute(sql, parameters)
        finally:
            self.connection.release_if_done()

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any], /) -> "_QueuedWritesCursor":
        self.connection.take_write_lock(sql)
        try:
            return super().executemany(sql, seq_of_parameters)
        finally:
            self.connection.release_if_done()
