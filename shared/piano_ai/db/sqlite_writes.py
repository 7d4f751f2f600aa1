"""SQLite connections whose writers queue on a lock in this process instead of sleeping in SQLite.

SQLite lets one connection write at a time. Another that tries meanwhile gets SQLITE_BUSY, and its busy
handler sleeps 1, 2, 5, 10 ... up to 100 ms between tries, so with 20 concurrent submits a write can wait
far longer than the writes ahead of it take (measured: p99 1.7-2.2 s against 0.8-1.2 s queued, 20 threads
each doing a job's insert and sent mark, scripts/bench_service.py's load). Here a connection takes its
process's lock for the database file at its first INSERT/UPDATE/DELETE and gives it back when the
transaction ends (commit, rollback or close), so the writers of one process wait their turn, woken as soon
as it comes. Other processes (the worker) still meet the busy handler, as before.
"""

import sqlite3
import threading
from collections.abc import Iterable
from typing import Any

WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE")
LOCK_TIMEOUT_S = 30.0  # as long as the busy timeout; then "database is locked", as SQLite would say

_locks: dict[str, threading.Lock] = {}  # database path -> its writers' lock in this process
_locks_guard = threading.Lock()


def _lock_for(database: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(database, threading.Lock())


class QueuedWritesConnection(sqlite3.Connection):
    """A sqlite3 connection (``sqlite3.connect(path, factory=QueuedWritesConnection)``) that holds its
    process's write lock for the database while a write transaction is open."""

    def __init__(self, database: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        # A plain Lock, not an RLock: the thread that ends a transaction need not be the one that began it.
        self._write_lock = _lock_for(str(database))
        self._writing = False

    def cursor(self, factory: Any = None) -> sqlite3.Cursor:  # type: ignore[override]
        return super().cursor(factory or _QueuedWritesCursor)

    def take_write_lock(self, sql: str) -> None:
        """Wait for the write lock if ``sql`` writes and this connection does not hold it yet."""
        if self._writing or not sql.lstrip()[:8].upper().startswith(WRITE_VERBS):
            return
        if not self._write_lock.acquire(timeout=LOCK_TIMEOUT_S):
            raise sqlite3.OperationalError("database is locked (another writer in this process)")
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
