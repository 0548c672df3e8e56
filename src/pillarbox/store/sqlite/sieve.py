"""Sieve scripts and the "seen" memory of duplicate and vacation, in SQLite.

Account id 0 holds the admin's global scripts. Activating a script deactivates the account's others
in the same transaction, so there is never more than one active (RFC 5804 2.8).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pillarbox.errors import AlreadyExists, NotFound
from pillarbox.store.records import SieveScript
from pillarbox.store.sqlite.writer import Txn

T = TypeVar("T")
GLOBAL = 0


def _owner(account_id: int | None) -> int:
    return GLOBAL if account_id is None else account_id


def _rows(conn: sqlite3.Connection, owner: int) -> list[SieveScript]:
    rows = conn.execute("SELECT name, content, active FROM sieve_scripts WHERE account_id = ? ORDER BY name",
                        (owner,)).fetchall()
    return [SieveScript(name, content, bool(active)) for name, content, active in rows]


def _exists(conn: sqlite3.Connection, owner: int, name: str) -> bool:
    query = "SELECT 1 FROM sieve_scripts WHERE account_id = ? AND name = ?"
    return conn.execute(query, (owner, name)).fetchone() is not None


def _activate(txn: Txn, owner: int, name: str | None) -> None:
    if name is not None and not _exists(txn.conn, owner, name):
        raise NotFound(f"no script {name}")
    txn.conn.execute("UPDATE sieve_scripts SET active = coalesce(name = ?, 0) WHERE account_id = ?", (name, owner))


def _rename(txn: Txn, owner: int, old: str, new: str) -> None:
    if not _exists(txn.conn, owner, old):
        raise NotFound(f"no script {old}")
    if _exists(txn.conn, owner, new):
        raise AlreadyExists(f"script {new} exists")
    txn.conn.execute("UPDATE sieve_scripts SET name = ? WHERE account_id = ? AND name = ?", (new, owner, old))


def _delete(txn: Txn, owner: int, name: str) -> None:
    deleted = txn.conn.execute("DELETE FROM sieve_scripts WHERE account_id = ? AND name = ?", (owner, name))
    if deleted.rowcount == 0:
        raise NotFound(f"no script {name}")


def _remember(txn: Txn, owner: int, key: str, expires: float, now: float) -> None:
    txn.conn.execute("DELETE FROM sieve_tracking WHERE expires <= ?", (now,))
    txn.conn.execute("INSERT OR REPLACE INTO sieve_tracking (account_id, key, expires) VALUES (?, ?, ?)",
                     (owner, key, expires))


def delete_account_rows(txn: Txn, account_id: int) -> None:
    txn.conn.execute("DELETE FROM sieve_scripts WHERE account_id = ?", (account_id,))
    txn.conn.execute("DELETE FROM sieve_tracking WHERE account_id = ?", (account_id,))


class SieveTables:
    """The ``SieveStore`` half of ``SQLiteStore``."""

    _read: Callable[[Callable[[sqlite3.Connection], T]], Awaitable[T]]
    _write: Callable[[Callable[[Txn], T]], Awaitable[T]]

    async def list_sieve_scripts(self, account_id: int | None) -> list[SieveScript]:
        return await self._read(lambda c: _rows(c, _owner(account_id)))

    async def get_sieve_script(self, account_id: int | None, name: str) -> SieveScript | None:
        return next((s for s in await self.list_sieve_scripts(account_id) if s.name == name), None)

    async def active_sieve_script(self, account_id: int) -> SieveScript | None:
        return next((s for s in await self.list_sieve_scripts(account_id) if s.active), None)

    async def put_sieve_script(self, account_id: int | None, name: str, content: str) -> None:
        await self._write(lambda t: t.conn.execute(
            "INSERT INTO sieve_scripts (account_id, name, content) VALUES (?, ?, ?)"
            " ON CONFLICT (account_id, name) DO UPDATE SET content = excluded.content",
            (_owner(account_id), name, content)))

    async def activate_sieve_script(self, account_id: int, name: str | None) -> None:
        await self._write(lambda t: _activate(t, account_id, name))

    async def rename_sieve_script(self, account_id: int | None, old: str, new: str) -> None:
        await self._write(lambda t: _rename(t, _owner(account_id), old, new))

    async def delete_sieve_script(self, account_id: int | None, name: str) -> None:
        await self._write(lambda t: _delete(t, _owner(account_id), name))

    async def sieve_seen(self, account_id: int, key: str, now: float) -> bool:
        query = "SELECT 1 FROM sieve_tracking WHERE account_id = ? AND key = ? AND expires > ?"
        return await self._read(lambda c: c.execute(query, (account_id, key, now)).fetchone() is not None)

    async def sieve_remember(self, account_id: int, key: str, expires: float, now: float) -> None:
        await self._write(lambda t: _remember(t, account_id, key, expires, now))
