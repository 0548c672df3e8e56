"""METADATA annotations (RFC 5464) in SQLite: ``metadata`` rows keyed by mailbox (0: the server), owner
(0: /shared, else the account of a /private entry) and lower-case entry name (schema.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from pillarbox.errors import LimitReached
from pillarbox.store.sqlite.writer import Txn


def _owner(name: str, account_id: int) -> int:
    return account_id if name.startswith("/private") else 0


def list_metadata(conn: sqlite3.Connection, account_id: int, mailbox_id: int) -> dict[str, bytes]:
    rows = conn.execute(
        "SELECT name, value FROM metadata WHERE mailbox_id = ? AND owner IN (0, ?)", (mailbox_id, account_id))
    return {name: bytes(value) for name, value in rows}


def account_metadata(conn: sqlite3.Connection, account_id: int) -> dict[int, dict[str, bytes]]:
    rows = conn.execute(
        "SELECT mailbox_id, name, value FROM metadata WHERE owner IN (0, ?) AND (mailbox_id = 0"
        " OR mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = ?))", (account_id, account_id))
    found: dict[int, dict[str, bytes]] = {}
    for mailbox_id, name, value in rows:
        found.setdefault(mailbox_id, {})[name] = bytes(value)
    return found


def set_metadata(
    txn: Txn, account_id: int, mailbox_id: int, changes: Sequence[tuple[str, bytes | None]], max_entries: int
) -> None:
    """Set (or, for None, remove) each entry; LimitReached when an owner's entries on this mailbox would
    pass ``max_entries`` (the caller's job is rolled back whole: 4.3, all or nothing)."""
    for name, value in changes:
        key = (mailbox_id, _owner(name, account_id), name.lower())
        if value is None:
            txn.conn.execute("DELETE FROM metadata WHERE mailbox_id = ? AND owner = ? AND name = ?", key)
            continue
        txn.conn.execute("INSERT OR REPLACE INTO metadata (mailbox_id, owner, name, value) VALUES (?, ?, ?, ?)",
                         (*key, value))
        count = txn.conn.execute(
            "SELECT count(*) FROM metadata WHERE mailbox_id = ? AND owner = ?", key[:2]).fetchone()[0]
        if count > max_entries:
            raise LimitReached(f"at most {max_entries} annotations")
