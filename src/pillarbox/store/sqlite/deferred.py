"""Commits that may ride the next flush: flag changes, \\Recent marks, search-index rows.

A flag change (IMAP STORE, the \\Seen that FETCH BODY[] sets, POP3's \\Seen at QUIT) is small and
frequent, and a client waits for its reply: a disk flush of its own is most of its latency. Such a
commit runs with ``synchronous = NORMAL``: SQLite writes its WAL frames without flushing them, and
consistency is kept (WAL recovery stops at the first frame whose checksum fails). The frames become
durable with the next flush of the WAL, which is:

- the next ordinary commit of any process (new mail, expunges, deletes: they all flush the whole WAL),
- or, at the latest ``delay`` seconds after the first unflushed commit, an fdatasync(2) of the WAL
  by the writer thread (``DeferredFlush``).

So a power cut or an OS crash loses at most the flag changes of the last ``delay`` seconds, never a
message; a killed process loses nothing (its writes are in the kernel's page cache).

MODSEQs given out by commits a crash may lose must never be handed out again (RFC 7162 3.1: a client
that saw a MODSEQ resynchronises from it). Deferred commits therefore stay below a ceiling kept
durable in ``counters`` ('modseq_ceiling'): the commit that passes it raises it by ``MODSEQ_BLOCK``
and is flushed at once. After a reboot (a new Linux boot id: the only time unflushed frames can have
been lost) the first store open moves the MODSEQ counter up to that ceiling.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from pillarbox.obs import get_logger, log_event

MODSEQ_BLOCK = 1000
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
log = get_logger("store")


def current_boot() -> int:
    """This boot of the machine as a number; 0 where unknown (then every open counts as a reboot)."""
    try:
        return int(BOOT_ID.read_text().strip().replace("-", "")[:15], 16)
    except (OSError, ValueError):
        return 0


def recover_after_reboot(conn: sqlite3.Connection, boot: int) -> None:
    """At store open, in autocommit mode: after a reboot, skip the MODSEQs a lost commit may have used."""
    known = dict(conn.execute("SELECT name, value FROM counters WHERE name IN ('boot', 'modseq_ceiling')"))
    if boot and known.get("boot") == boot:
        return  # no write at all on an ordinary open
    conn.execute("BEGIN IMMEDIATE")
    try:
        ceiling = conn.execute("SELECT value FROM counters WHERE name = 'modseq_ceiling'").fetchone()
        if ceiling is not None:
            conn.execute("UPDATE counters SET value = max(value, ?) WHERE name = 'modseq'", (ceiling[0],))
        conn.execute("INSERT OR REPLACE INTO counters VALUES ('boot', ?)", (boot,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def cover_modseqs(conn: sqlite3.Connection) -> bool:
    """Inside a deferred batch, before COMMIT: True when it used a MODSEQ above the durable ceiling;
    the ceiling is then raised (in this transaction) and the caller must flush the commit at once."""
    row = conn.execute(
        "SELECT m.value, c.value FROM counters m LEFT JOIN counters c ON c.name = 'modseq_ceiling'"
        " WHERE m.name = 'modseq'").fetchone()
    modseq, ceiling = row[0], row[1]
    if ceiling is not None and modseq <= ceiling:
        return False
    conn.execute("INSERT OR REPLACE INTO counters VALUES ('modseq_ceiling', ?)", (modseq + MODSEQ_BLOCK,))
    return True


class DeferredFlush:
    """The WAL flush owed to deferred commits; ``delay`` 0 turns deferring off."""

    def __init__(self, wal: Path, delay: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.wal = wal
        self.delay = delay
        self._clock = clock
        self._owed_since: float | None = None
        self.flushes = 0

    @property
    def enabled(self) -> bool:
        return self.delay > 0

    def committed(self, flushed: bool) -> None:
        """After a commit: ``flushed`` (a synchronous=FULL commit, or ``flush`` called) pays what was owed."""
        if flushed:
            self._owed_since = None
        elif self._owed_since is None:
            self._owed_since = self._clock()

    def due_in(self) -> float | None:
        """Seconds until the owed flush is due (≤ 0: now); None when nothing is owed."""
        if self._owed_since is None:
            return None
        return self._owed_since + self.delay - self._clock()

    def flush(self) -> None:
        """fdatasync(2) the WAL: every frame written so far, by any connection, is then durable."""
        try:
            fd = os.open(self.wal, os.O_RDONLY)
            try:
                os.fdatasync(fd)
            finally:
                os.close(fd)
        except OSError as exc:  # the next ordinary commit flushes them all the same
            log_event(log, "error", "deferred WAL flush failed", error=str(exc))
        else:
            self.flushes += 1
        finally:
            self._owed_since = None
