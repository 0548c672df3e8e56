"""Blob files no committed row names, and their removal (``pillarbox store check --repair``).

A delivery writes its blob files before it commits (``writer.py``: the bytes are durable before any row
names them), so a delivery refused inside the transaction (quota, a vanished mailbox) or a crash between
the two leaves a file that nothing names. It is harmless, only wasted space; removing it must never
race a delivery that wrote its file and has not committed yet. So a file is removed only when it is
older than ``GRACE_SECONDS`` (a writer commits within moments of writing) and, deciding under the
writers' lock (``write.lock``), no row names it. Half-written temporary files (``NAME.PID.tmp``) left by
a crash count as orphans too.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from pillarbox.store.blobs import BlobStore

GRACE_SECONDS = 3600


def _files(blobs: BlobStore) -> Iterator[Path]:
    if blobs.root.is_dir():
        yield from (path for path in blobs.root.rglob("*") if path.is_file())


def _named(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT DISTINCT m.blob FROM messages m WHERE NOT EXISTS"
                        " (SELECT 1 FROM message_bodies b WHERE b.message_id = m.id)")
    return {row[0] for row in rows}


def find_orphans(conn: sqlite3.Connection, blobs: BlobStore, now: float | None = None) -> list[Path]:
    """The files under ``blobs`` that no row names and that are past the grace period."""
    cutoff = (time.time() if now is None else now) - GRACE_SECONDS
    named = _named(conn)
    return sorted(path for path in _files(blobs) if path.name not in named and path.stat().st_mtime < cutoff)


def remove_orphans(conn: sqlite3.Connection, blobs: BlobStore, lock_path: Path, now: float | None = None) -> int:
    """Remove what ``find_orphans`` finds, deciding under the writers' lock; returns how many went."""
    lock = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        orphans = find_orphans(conn, blobs, now)
        for path in orphans:
            path.unlink(missing_ok=True)
    finally:
        os.close(lock)
    return len(orphans)
