"""WAL checkpoints off the commit path, and the WAL started over off it too.

SQLite's default checkpoints the WAL into the database file from inside a COMMIT once the WAL passes
1000 pages, so every few batches one delivery pays for copying and flushing pages it never wrote.
The writer connection turns that off (``wal_autocheckpoint=0``) and this thread looks once a second
and runs a PASSIVE checkpoint (it never blocks the writer or readers) when another connection
committed since (``PRAGMA data_version``) and either the WAL file grew (new frames went past the
longest the WAL has been: the store is busy) or the last checkpoint is ``IDLE_SECONDS`` old. A quiet
store's WAL thus holds up to half a minute of commits, a busy one's about a second past its size.

Once a checkpoint has moved everything, the next commit starts the WAL over, and SQLite flushes the
new WAL header before the commit's own frames: two flushes instead of one, and one even for a commit
that defers its flush (``deferred.py``). On a quiet server that was every commit (a user changing
flags, one delivery now and then). So after a checkpoint that moved everything, this thread commits a
one-row change itself (``synchronous = NORMAL``, under the writers' ``write.lock``): the WAL starts over
here, and the next commit only appends. Its own commits do not move ``data_version`` for it, so an
idle store costs nothing. A WAL is never unbounded for long: other connections (the admin CLI) keep
SQLite's default.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from pillarbox.obs import get_logger, log_event, name_os_thread
from pillarbox.store.reserve import is_disk_full

INTERVAL_SECONDS = 1.0
IDLE_SECONDS = 30.0
log = get_logger("store")


class Checkpointer:
    def __init__(
        self, connect: Callable[[], sqlite3.Connection], wal: Path | None = None, lock_path: Path | None = None,
    ) -> None:
        """``wal``: the WAL file, whose size tells a busy store (without it, every look with news
        checkpoints); ``lock_path``: the writers' ``write.lock``, to start the WAL over after a
        checkpoint (without it, the next commit does)."""
        self._connect = connect
        self._wal = wal
        self._lock_path = lock_path
        self._seen: int | None = None  # data_version at the last checkpoint
        self._wal_size = 0
        self._checkpointed_at = time.monotonic()
        self._stop = threading.Event()
        self.restarts = 0
        self._thread = threading.Thread(target=self._run, name="pillarbox-store-checkpoint", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        name_os_thread("pb-checkpoint")
        conn = self._connect()
        lock = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600) if self._lock_path else None
        try:
            while not self._stop.wait(INTERVAL_SECONDS):
                self._look(conn, lock)
            _checkpoint(conn)
        finally:
            if lock is not None:
                os.close(lock)
            conn.close()

    def _look(self, conn: sqlite3.Connection, lock: int | None) -> None:
        try:
            version = conn.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.Error:
            version = None  # unknown: as if something changed
        if version is not None and version == self._seen:
            return
        size = self._size_of_wal()
        if size <= self._wal_size and time.monotonic() - self._checkpointed_at < IDLE_SECONDS:
            return
        self._seen, self._wal_size, self._checkpointed_at = version, size, time.monotonic()
        if _checkpoint(conn) and lock is not None:
            self._start_wal_over(conn, lock)

    def _size_of_wal(self) -> int:
        """stat(2) only: a descriptor of it opened and closed here would drop SQLite's POSIX locks."""
        if self._wal is None:
            return self._wal_size + 1
        try:
            return self._wal.stat().st_size
        except OSError:
            return 0

    def _start_wal_over(self, conn: sqlite3.Connection, lock: int) -> None:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            conn.execute("PRAGMA synchronous = NORMAL")  # the row is worth nothing: no flush for it
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO counters VALUES ('wal_restarts', 1)"
                         " ON CONFLICT (name) DO UPDATE SET value = value + 1")
            conn.execute("COMMIT")
            self.restarts += 1
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            log_event(log, "warning", "WAL not started over after a checkpoint", error=str(exc))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _checkpoint(conn: sqlite3.Connection) -> bool:
    """A PASSIVE checkpoint; True when it moved every frame of a non-empty WAL."""
    try:
        busy, frames, moved = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    except sqlite3.OperationalError as exc:
        # busy: the next round will do it; the disk is full: the WAL keeps the pages (committed
        # and durable) until the database file can grow again
        if is_disk_full(exc):
            log_event(log, "warning", "WAL checkpoint postponed: the disk is full", error=str(exc))
        return False
    return not busy and frames > 0 and frames == moved
