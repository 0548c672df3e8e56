"""The global counters: MODSEQ (one sequence for all mailboxes), UIDVALIDITY and message ids."""

from __future__ import annotations

import sqlite3


def next_modseq(conn: sqlite3.Connection) -> int:
    row = conn.execute("UPDATE counters SET value = value + 1 WHERE name = 'modseq' RETURNING value").fetchone()
    return int(row[0])


def next_uidvalidity(conn: sqlite3.Connection, now: int, count: int = 1) -> int:
    """Reserve ``count`` UIDVALIDITY values; the first is returned.

    RFC 9051 2.3.1.1: a mailbox deleted and created again under the same name must get a new
    UIDVALIDITY. Values follow the clock (like Dovecot) but never repeat or go back, even if the
    clock does.
    """
    last = conn.execute("SELECT value FROM counters WHERE name = 'uidvalidity'").fetchone()[0]
    first = max(now, last + 1)
    conn.execute("UPDATE counters SET value = ? WHERE name = 'uidvalidity'", (first + count - 1,))
    return first


def next_message_id(conn: sqlite3.Connection) -> int:
    """An id no stored message ever had: ids are never reused, so one names one message for ever."""
    row = conn.execute("UPDATE counters SET value = value + 1 WHERE name = 'message_id' RETURNING value").fetchone()
    return int(row[0])
