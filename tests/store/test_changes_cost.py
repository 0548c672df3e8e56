"""What "anything new in the selected mailbox?" costs: IMAP asks it after every command, mostly when
nothing changed, so its work must follow the changes, not the size of the mailbox."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pillarbox.store.records import Changes
from pillarbox.store.sqlite import messages
from pillarbox.store.sqlite.schema import migrate

CHANGED = 5


def _mailbox_with(tmp_path: Path, size: int) -> sqlite3.Connection:
    """A mailbox of ``size`` messages (MODSEQ 1 .. size), the last CHANGED of them changed since
    ``size - CHANGED``, and as many expunged rows as messages."""
    conn = sqlite3.connect(tmp_path / f"store-{size}.sqlite3", isolation_level=None)
    migrate(conn)
    conn.execute("INSERT INTO domains (name, created) VALUES ('example.com', 0)")
    conn.execute("INSERT INTO accounts (address, domain_id, password_hash, created) VALUES ('b@example.com', 1, '', 0)")
    conn.execute("INSERT INTO mailboxes (account_id, name, uidvalidity, uidnext, highestmodseq)"
                 " VALUES (1, 'INBOX', 1, ?, ?)", (size + 1, size))
    conn.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)"
                 " INSERT INTO messages (id, blob, size, subject, from_, structure, refs, created)"
                 " SELECT i, 'blob' || i, 100, '', '', '{}', 1, 0 FROM n", (size,))
    conn.execute("INSERT INTO mailbox_messages (mailbox_id, uid, message_id, modseq, internal_date, save_date)"
                 " SELECT 1, id, id, id, 0, 0 FROM messages")
    conn.execute("INSERT INTO expunged (mailbox_id, uid, modseq) SELECT 1, id + ?, id FROM messages", (size,))
    return conn


def _steps(conn: sqlite3.Connection, modseq: int) -> tuple[int, Changes]:
    """SQLite virtual-machine steps (in hundreds) that ``changes_since`` takes, and its answer."""
    count = 0

    def tick() -> int:
        nonlocal count
        count += 1
        return 0

    conn.set_progress_handler(tick, 100)
    try:
        changes = messages.changes_since(conn, 1, modseq)
    finally:
        conn.set_progress_handler(None, 0)
    return count, changes


def test_changes_since_reads_the_changed_rows_not_the_whole_mailbox(tmp_path: Path):
    costs = []
    for size in (500, 4000):
        conn = _mailbox_with(tmp_path, size)
        steps, changes = _steps(conn, size - CHANGED)
        assert [entry.uid for entry in changes.changed] == list(range(size - CHANGED + 1, size + 1))
        assert list(changes.expunged) == list(range(2 * size - CHANGED + 1, 2 * size + 1))
        costs.append(steps)
        conn.close()
    small, large = costs
    assert large <= 2 * small + 2, costs  # a walk of the mailbox would cost 8 times as much
