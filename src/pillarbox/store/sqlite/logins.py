"""Failed logins, for the login throttle (``auth/throttle.py``): one row per failure and per what it
counts against (the client IP, the account name), kept only as long as the throttle's window."""

from __future__ import annotations

import sqlite3

from pillarbox.store.sqlite.writer import Txn


def count(conn: sqlite3.Connection, ip: str | None, account: str | None, since: float) -> tuple[int, int]:
    """Failures since ``since`` from ``ip`` and against ``account`` (0 for a None)."""
    query = "SELECT count(*) FROM login_failures WHERE kind = ? AND key = ? AND at >= ?"
    by_ip = conn.execute(query, ("ip", ip, since)).fetchone()[0] if ip else 0
    by_account = conn.execute(query, ("account", account, since)).fetchone()[0] if account else 0
    return by_ip, by_account


def add(txn: Txn, ip: str, account: str | None, at: float, forget_before: float) -> None:
    txn.conn.execute("DELETE FROM login_failures WHERE at < ?", (forget_before,))
    txn.conn.executemany("INSERT INTO login_failures (kind, key, at) VALUES (?, ?, ?)",
                         [("ip", ip, at)] + ([("account", account, at)] if account else []))


def clear_account(txn: Txn, account: str) -> None:
    txn.conn.execute("DELETE FROM login_failures WHERE kind = 'account' AND key = ?", (account,))
