"""What each account sent and bounced lately, and its own sending rules (``antispam/sending.py``)."""

from __future__ import annotations

import sqlite3

from pillarbox.store.records import SendingPolicy
from pillarbox.store.sqlite.writer import Txn

KEEP_SECONDS = 86400
"""Sending events older than this are dropped as new ones are written (the limits look back one hour)."""


def record(txn: Txn, account_id: int, kind: str, count: int, at: int) -> None:
    txn.conn.execute("INSERT INTO sending_events (account_id, kind, at, count) VALUES (?, ?, ?, ?)",
                     (account_id, kind, at, count))
    txn.conn.execute("DELETE FROM sending_events WHERE at < ?", (at - KEEP_SECONDS,))


def totals(conn: sqlite3.Connection, account_id: int, since: int) -> dict[str, tuple[int, int]]:
    """kind → (events, sum of their counts) since ``since``."""
    rows = conn.execute(
        "SELECT kind, count(*), coalesce(sum(count), 0) FROM sending_events WHERE account_id = ? AND at >= ?"
        " GROUP BY kind", (account_id, since))
    return {kind: (events, total) for kind, events, total in rows}


def policy(conn: sqlite3.Connection, account_id: int) -> SendingPolicy:
    row = conn.execute(
        "SELECT messages_per_hour, recipients_per_hour, held_reason, held_at FROM sending_policies"
        " WHERE account_id = ?", (account_id,)).fetchone()
    return SendingPolicy(*row) if row is not None else SendingPolicy()


def set_limits(txn: Txn, account_id: int, messages: int | None, recipients: int | None) -> None:
    txn.conn.execute(
        "INSERT INTO sending_policies (account_id, messages_per_hour, recipients_per_hour) VALUES (?, ?, ?)"
        " ON CONFLICT DO UPDATE SET messages_per_hour = excluded.messages_per_hour,"
        " recipients_per_hour = excluded.recipients_per_hour", (account_id, messages, recipients))


def set_held(txn: Txn, account_id: int, reason: str | None, at: int) -> None:
    txn.conn.execute(
        "INSERT INTO sending_policies (account_id, held_reason, held_at) VALUES (?, ?, ?)"
        " ON CONFLICT DO UPDATE SET held_reason = excluded.held_reason, held_at = excluded.held_at",
        (account_id, reason, at if reason is not None else None))
