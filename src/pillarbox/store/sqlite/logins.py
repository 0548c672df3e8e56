"""What the login throttle and the authenticator keep in the store (``auth/throttle.py``,
``auth/authenticator.py``), so every server process and node sees the same:

- failed logins, one row per attempt (the client IP and the account name tried), kept as long as the
  throttle's window. An attempt is written *before* its password is checked and removed again if it
  succeeds, and the write refuses once the IP has its limit: parallel connections cannot get more
  guesses checked than the limit (the count and the insert are one transaction);
- the networks each account logged in from, with the time of the last success;
- server secrets: random values made on first use (the fake SCRAM salts of unknown users).
"""

from __future__ import annotations

import secrets
import sqlite3

from pillarbox.store.sqlite.writer import Txn

SECRET_BYTES = 32


def count(conn: sqlite3.Connection, ip: str | None, account: str | None, since: float) -> tuple[int, int]:
    """Failures since ``since`` from ``ip`` and against ``account`` (0 for a None)."""
    by_ip = conn.execute(
        "SELECT count(*) FROM login_failures WHERE ip = ? AND at >= ?", (ip, since)).fetchone()[0] if ip else 0
    by_account = conn.execute(
        "SELECT count(*) FROM login_failures WHERE account = ? AND at >= ?", (account, since)
    ).fetchone()[0] if account else 0
    return by_ip, by_account


def add(txn: Txn, ip: str, account: str | None, at: float, since: float, ip_limit: int) -> tuple[int, int, int] | None:
    """Count first, then add unless ``ip`` already has ``ip_limit`` failures since ``since``."""
    txn.conn.execute("DELETE FROM login_failures WHERE at < ?", (since,))
    by_ip, by_account = count(txn.conn, ip, account, since)
    if by_ip >= ip_limit:
        return None
    cursor = txn.conn.execute("INSERT INTO login_failures (ip, account, at) VALUES (?, ?, ?)", (ip, account, at))
    assert cursor.lastrowid is not None
    return cursor.lastrowid, by_ip + 1, by_account + (1 if account else 0)


def forget(txn: Txn, failure_id: int) -> None:
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
