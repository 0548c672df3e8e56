"""Per-user allow/block lists (``antispam/lists.py`` decides with them)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from pillarbox.errors import NotFound
from pillarbox.store.records import SenderRule
from pillarbox.store.sqlite.writer import Txn


def add(txn: Txn, account_id: int, pattern: str, action: str, source: str, now: int) -> None:
    """A user's own entry replaces whatever was there; a remembered correspondent never replaces a user's entry."""
    keep_users = " WHERE sender_rules.source = 'sent'" if source == "sent" else ""
    txn.conn.execute(
        "INSERT INTO sender_rules (account_id, pattern, action, source, updated) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT DO UPDATE SET action = excluded.action, source = excluded.source, updated = excluded.updated"
        + keep_users, (account_id, pattern, action, source, now))


def remember(txn: Txn, account_id: int, addresses: Sequence[str], now: int, keep: int) -> None:
    """Addresses the user wrote to, allowed from now on; only the ``keep`` most recent are kept."""
    for address in addresses:
        add(txn, account_id, address, "allow", "sent", now)
    txn.conn.execute(
        "DELETE FROM sender_rules WHERE account_id = ? AND source = 'sent' AND pattern NOT IN"
        " (SELECT pattern FROM sender_rules WHERE account_id = ? AND source = 'sent' ORDER BY updated DESC LIMIT ?)",
        (account_id, account_id, keep))


def delete(txn: Txn, account_id: int, pattern: str) -> None:
    if not txn.conn.execute("DELETE FROM sender_rules WHERE account_id = ? AND pattern = ?",
                            (account_id, pattern)).rowcount:
        raise NotFound(f"no allow or block entry for {pattern}")


def matching(conn: sqlite3.Connection, account_id: int, patterns: Sequence[str]) -> dict[str, str]:
    rows = conn.execute(
        "SELECT pattern, action FROM sender_rules WHERE account_id = ? AND pattern IN (SELECT value FROM json_each(?))",
        (account_id, json.dumps(list(patterns))))
    return dict(rows.fetchall())


def listing(conn: sqlite3.Connection, account_id: int | None) -> list[SenderRule]:
    where = "" if account_id is None else " WHERE r.account_id = ?"
    rows = conn.execute(
        "SELECT a.address, r.pattern, r.action, r.source, r.updated FROM sender_rules r"
        " JOIN accounts a ON a.id = r.account_id" + where + " ORDER BY a.address, r.source DESC, r.pattern",
        () if account_id is None else (account_id,))
    return [SenderRule(*row) for row in rows]
