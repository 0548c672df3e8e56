"""WAL checkpoints off the commit path.

SQLite's default checkpoints the WAL into the database file from inside a COMMIT once the WAL passes
1000 pages, so every few batches one delivery pays for copying and flushing pages it never wrote.
The writer connection turns that off (``wal_autocheckpoint=0``) and this thread runs a PASSIVE
checkpoint (it never blocks the writer or readers), looking about once a second, when the WAL holds
``MIN_FRAMES`` pages not yet in the database (SQLite's own default threshold).

Why not whenever something waits: once a checkpoint has moved everything, the next commit starts
the WAL over and SQLite flushes the new WAL header before the frames: two flushes instead of one, on
the commit path. With a checkpoint a second that was every commit of a quiet server (a user changing
flags), and it made the commits that defer their flush (``deferred.py``) flush all the same. The
pages waiting are read from the WAL-index header in the ``-shm`` file (mxFrame − nBackfill, the
layout of sqlite.org/walformat.html); where it cannot be read, every look checkpoints, as before.
A WAL is never unbounded for long: other connections (the admin CLI) keep SQLite's default.
"""

from __future__ import annotations

import sqlite3
import struct
import threading
from collections.abc import Callable
from pathlib import Path

from pillarbox.obs import get_logger, log_event
from pillarbox.store.reserve import is_disk_full

INTERVAL_SECONDS = 1.0
MIN_FRAMES = 1000
WAL_INDEX_VERSION = 3007000
log = get_logger("store")


class Checkpointer:
    def __init__(self, connect: Callable[[], sqlite3.Connection], shm: Path | None = None) -> None:
        """``shm``: the database's ``-shm`` file, to skip checkpoints of a short WAL."""
        self._connect = connect
        self._shm = shm
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
                if self._shm is None or waiting_frames(self._shm) >= MIN_FRAMES:
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


def waiting_frames(shm: Path) -> int:
    """WAL frames not yet checkpointed, from the WAL-index header; unknown counts as many."""
    try:
        with open(shm, "rb") as f:
            head = f.read(100)
        # WalIndexHdr: iVersion u32 at 0, mxFrame u32 at 16 (native byte order, as SQLite maps it);
        # WalCkptInfo follows the header's two copies (2 x 48 bytes): nBackfill u32 at 96
        version, max_frame = struct.unpack_from("=I12xI", head)
        (backfilled,) = struct.unpack_from("=I", head, 96)
    except (OSError, struct.error):
        return MIN_FRAMES
    if version != WAL_INDEX_VERSION:
        return MIN_FRAMES
    return max(0, max_frame - backfilled)
