"""Commits that may ride the next flush: flag changes, \\Recent marks, search-index rows.

A flag change (IMAP STORE, the \\Seen that FETCH BODY[] sets, POP3's \\Seen at QUIT) is small and
frequent, and a client waits for its reply: a disk flush of its own is most of its latency. Such a
commit runs with ``synchronous = NORMAL``: SQLite writes its WAL frames without flushing them, and
consistency is kept (WAL recovery stops at the first frame whose checksum fails). The frames become
durable with the next flush of the WAL, which is:

- the next ordinary commit of any process (new mail, expunges, deletes: they all flush the whole WAL),
- or, at the latest ``delay`` seconds after the first unflushed commit, a commit of the writer thread
  made for that (``flush_commit``; ``DeferredFlush`` keeps the time).

So a power cut or an OS crash loses at most the flag changes of the last ``delay`` seconds, never a
message; a killed process loses nothing (its writes are in the kernel's page cache).

MODSEQs given out by commits a crash may lose must never be handed out again (RFC 7162 3.1: a client
that saw a MODSEQ resynchronises from it). Deferred commits therefore stay below a ceiling kept
durable in ``counters`` ('modseq_ceiling'): the commit that passes it raises it by ``MODSEQ_BLOCK``
and is flushed at once. After a reboot (a new Linux boot id: the only time unflushed frames can have
been lost) the first store open moves the MODSEQ counter up to that ceiling.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

MODSEQ_BLOCK = 1000
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


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


def flush_commit(conn: sqlite3.Connection) -> None:
    """With ``synchronous = FULL`` set: flush every WAL frame written so far, by any connection, through
    a commit of its own (a counter bumped: a write that changes nothing writes no page, so no flush).
    Opening the WAL to fdatasync(2) it ourselves would cost the same flush, but closing a descriptor of
    one of SQLite's files drops all of the process's POSIX locks on that file (SQLite's own warning)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("INSERT INTO counters VALUES ('wal_flushes', 1)"
                     " ON CONFLICT (name) DO UPDATE SET value = value + 1")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


class DeferredFlush:
    """When the flush owed to deferred commits is due; ``delay`` 0 turns deferring off."""

    def __init__(self, delay: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.delay = delay
        self._clock = clock
        self._owed_since: float | None = None
        self.flushes = 0  # commits made only to pay what was owed

    @property
    def enabled(self) -> bool:
        return self.delay > 0

    def committed(self, flushed: bool) -> None:
        """After a commit: ``flushed`` (a synchronous = FULL commit) pays what was owed."""
        if flushed:
            self._owed_since = None
        elif self._owed_since is None:
            self._owed_since = self._clock()

    def due_in(self) -> float | None:
        """Seconds until the owed flush is due (≤ 0: now); None when nothing is owed."""
        if self._owed_since is None:
            return None
        return self._owed_since + self.delay - self._clock()

    def paid(self) -> None:
        self.flushes += 1
        self._owed_since = None
