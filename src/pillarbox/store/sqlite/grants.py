"""Sender grants: addresses an account may send as besides its own (``auth/directory.py`` reads them)."""

from __future__ import annotations

import sqlite3

from pillarbox.errors import AlreadyExists, NotFound
from pillarbox.store.records import SenderGrant
from pillarbox.store.sqlite.directory import require_account_id
from pillarbox.store.sqlite.writer import Txn


def add(txn: Txn, user: str, address: str) -> SenderGrant:
    account_id = require_account_id(txn.conn, user)
    try:
        txn.conn.execute("INSERT INTO sender_grants (account_id, address) VALUES (?, ?)", (account_id, address))
    except sqlite3.IntegrityError:
        raise AlreadyExists(f"{user} may send as {address} already") from None
    return SenderGrant(user, address)


def delete(txn: Txn, user: str, address: str) -> None:
    account_id = require_account_id(txn.conn, user)
    deleted = txn.conn.execute(
        "DELETE FROM sender_grants WHERE account_id = ? AND address = ?", (account_id, address)).rowcount
    if not deleted:
        raise NotFound(f"{user} has no grant for {address}")


def delete_account_grants(txn: Txn, account_id: int) -> None:
    txn.conn.execute("DELETE FROM sender_grants WHERE account_id = ?", (account_id,))


def of_account(conn: sqlite3.Connection, user: str) -> tuple[str, ...]:
    rows = conn.execute(
        "SELECT g.address FROM sender_grants g JOIN accounts a ON a.id = g.account_id WHERE a.address = ?"
        " ORDER BY g.address", (user,))
    return tuple(row[0] for row in rows)


def list_all(conn: sqlite3.Connection) -> list[SenderGrant]:
    rows = conn.execute(
        "SELECT a.address, g.address FROM sender_grants g JOIN accounts a ON a.id = g.account_id"
        " ORDER BY a.address, g.address")
    return [SenderGrant(user, address) for user, address in rows]
