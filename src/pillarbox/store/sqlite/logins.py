"""What the login throttle and the authenticator keep in the store (``auth/throttle.py``,
``auth/authenticator.py``), so every server process and node sees the same:

- failed logins, one row per attempt (the client IP and the account name tried), kept as long as the
  throttle's window. A password check first adds a *pending* row, settled when the check ends
  (kept as a failure, or deleted); the add refuses once the IP's failures and pending checks reach
  its limit (count and insert are one transaction), so parallel connections cannot get more guesses
  checked than the limit. Only settled failures count for the throttle's standing; a pending row
  older than ``PENDING_LIFETIME`` was lost with its process and counts for nothing;
- the networks each account logged in from, with the time of the last success;
- server secrets: random values made on first use (the fake SCRAM salts of unknown users).
"""

from __future__ import annotations

import secrets
import sqlite3

from pillarbox.store.sqlite.writer import Txn

SECRET_BYTES = 32


PENDING_LIFETIME = 60.0
"""Seconds after which a pending check is taken as lost (its process died): no check takes that long."""


def count(conn: sqlite3.Connection, ip: str | None, account: str | None, since: float) -> tuple[int, int]:
    """Settled failures since ``since`` from ``ip`` and against ``account`` (0 for a None)."""
    query = "SELECT count(*) FROM login_failures WHERE {} = ? AND at >= ? AND pending = 0"
    by_ip = conn.execute(query.format("ip"), (ip, since)).fetchone()[0] if ip else 0
    by_account = conn.execute(query.format("account"), (account, since)).fetchone()[0] if account else 0
    return by_ip, by_account


def add(
    txn: Txn, ip: str, account: str | None, at: float, since: float, ip_limit: int, pending: bool
) -> tuple[int | None, int, int]:
    """(new row id or None, settled failures of the IP, of the account): None when the IP's failures,
    with its pending checks, already reach ``ip_limit``."""
    txn.conn.execute("DELETE FROM login_failures WHERE at < ?", (since,))
    by_ip, by_account = count(txn.conn, ip, account, since)
    checking = txn.conn.execute("SELECT count(*) FROM login_failures WHERE ip = ? AND pending = 1 AND at >= ?",
                                (ip, at - PENDING_LIFETIME)).fetchone()[0]
    if by_ip + checking >= ip_limit:
        return None, by_ip, by_account
    cursor = txn.conn.execute("INSERT INTO login_failures (ip, account, at, pending) VALUES (?, ?, ?, ?)",
                              (ip, account, at, int(pending)))
    return cursor.lastrowid, by_ip, by_account


def settle(txn: Txn, failure_id: int, failed: bool) -> None:
    if failed:
        txn.conn.execute("UPDATE login_failures SET pending = 0 WHERE id = ?", (failure_id,))
    else:
        txn.conn.execute("DELETE FROM login_failures WHERE id = ?", (failure_id,))


def network_seen(conn: sqlite3.Connection, account: str, network: str, since: float) -> bool:
    row = conn.execute("SELECT 1 FROM login_networks WHERE account = ? AND network = ? AND last_success >= ?",
                       (account, network, since)).fetchone()
    return row is not None


def record_network(txn: Txn, account: str, network: str, at: float, forget_before: float) -> None:
    txn.conn.execute("DELETE FROM login_networks WHERE last_success < ?", (forget_before,))
    txn.conn.execute(
        "INSERT INTO login_networks (account, network, last_success) VALUES (?, ?, ?)"
        " ON CONFLICT (account, network) DO UPDATE SET last_success = max(last_success, excluded.last_success)",
        (account, network, at))


def server_secret(txn: Txn, name: str) -> bytes:
    """The secret called ``name``; the first caller (of any process) makes it."""
    txn.conn.execute("INSERT OR IGNORE INTO server_secrets (name, value) VALUES (?, ?)",
                     (name, secrets.token_bytes(SECRET_BYTES)))
    return bytes(txn.conn.execute("SELECT value FROM server_secrets WHERE name = ?", (name,)).fetchone()[0])
