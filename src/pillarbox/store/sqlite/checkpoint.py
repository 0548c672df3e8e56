"""WAL checkpoints off the commit path.

SQLite's default checkpoints the WAL into the database file from inside a COMMIT once the WAL passes
1000 pages, so every few batches one delivery pays for copying and flushing pages it never wrote.
The writer connection turns that off (``wal_autocheckpoint=0``) and this thread runs a PASSIVE
checkpoint (it never blocks the writer or readers) when there is something to move, about once a
second. A WAL is never unbounded for long: other connections (the admin CLI) keep SQLite's default.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable

from pillarbox.obs import get_logger, log_event
from pillarbox.store.reserve import is_disk_full

INTERVAL_SECONDS = 1.0
log = get_logger("store")


class Checkpointer:
    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self._connect = connect
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pillarbox-store-checkpoint", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        conn = self._connect()
        try:
            while not self._stop.wait(INTERVAL_SECONDS):
                self._checkpoint(conn)
            self._checkpoint(conn)
        finally:
            conn.close()

    @staticmethod
    def _checkpoint(conn: sqlite3.Connection) -> None:
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.OperationalError as exc:
            # busy: the next round will do it; the disk is full: the WAL keeps the pages (committed
            # and durable) until the database file can grow again
            if is_disk_full(exc):
                log_event(log, "warning", "WAL checkpoint postponed: the disk is full", error=str(exc))
