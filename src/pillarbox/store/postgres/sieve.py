"""Sieve scripts and the "seen" memory of duplicate and vacation on PostgreSQL (``store.api.SieveStore``),
the same rules as ``sqlite/sieve.py``: account id 0 holds the admin's global scripts; activating a
script deactivates the account's others in the same transaction (RFC 5804 2.8: at most one active).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from pillarbox.errors import AlreadyExists, NotFound
from pillarbox.store.records import SieveScript

GLOBAL = 0
Conn = asyncpg.Connection


def _owner(account_id: int | None) -> int:
    return GLOBAL if account_id is None else account_id


async def _exists(conn: Conn, owner: int, name: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM sieve_scripts WHERE account_id = $1 AND name = $2", owner, name))


async def _activate(conn: Conn, owner: int, name: str | None) -> None:
    if name is not None and not await _exists(conn, owner, name):
        raise NotFound(f"no script {name}")
    await conn.execute("UPDATE sieve_scripts SET active = coalesce(name = $1, false) WHERE account_id = $2",
                       name, owner)


async def _rename(conn: Conn, owner: int, old: str, new: str) -> None:
    if not await _exists(conn, owner, old):
        raise NotFound(f"no script {old}")
    if await _exists(conn, owner, new):
        raise AlreadyExists(f"script {new} exists")
    await conn.execute("UPDATE sieve_scripts SET name = $1 WHERE account_id = $2 AND name = $3", new, owner, old)


async def _delete(conn: Conn, owner: int, name: str) -> None:
    if await conn.execute("DELETE FROM sieve_scripts WHERE account_id = $1 AND name = $2", owner, name) == "DELETE 0":
        raise NotFound(f"no script {name}")


async def _remember(conn: Conn, owner: int, key: str, expires: float, now: float) -> None:
    await conn.execute("DELETE FROM sieve_tracking WHERE expires <= $1", now)
    await conn.execute("INSERT INTO sieve_tracking (account_id, key, expires) VALUES ($1, $2, $3)"
                       " ON CONFLICT (account_id, key) DO UPDATE SET expires = excluded.expires", owner, key, expires)


async def delete_account_rows(conn: Conn, account_id: int) -> None:
    await conn.execute("DELETE FROM sieve_scripts WHERE account_id = $1", account_id)
    await conn.execute("DELETE FROM sieve_tracking WHERE account_id = $1", account_id)


class SieveTables:
    """The ``SieveStore`` half of ``PostgresStore``."""

    _read: Callable[..., Awaitable[Any]]
    _write: Callable[..., Awaitable[Any]]

    async def list_sieve_scripts(self, account_id: int | None) -> list[SieveScript]:
        rows = await self._read(lambda c: c.fetch(
            'SELECT name, content, active FROM sieve_scripts WHERE account_id = $1 ORDER BY name COLLATE "C"',
            _owner(account_id)))
        return [SieveScript(name, content, bool(active)) for name, content, active in rows]

    async def get_sieve_script(self, account_id: int | None, name: str) -> SieveScript | None:
        return next((s for s in await self.list_sieve_scripts(account_id) if s.name == name), None)

    async def active_sieve_script(self, account_id: int) -> SieveScript | None:
        return next((s for s in await self.list_sieve_scripts(account_id) if s.active), None)

    async def put_sieve_script(self, account_id: int | None, name: str, content: str) -> None:
        await self._write(lambda c: c.execute(
            "INSERT INTO sieve_scripts (account_id, name, content) VALUES ($1, $2, $3)"
            " ON CONFLICT (account_id, name) DO UPDATE SET content = excluded.content",
            _owner(account_id), name, content))

    async def activate_sieve_script(self, account_id: int, name: str | None) -> None:
        await self._write(lambda c: _activate(c, account_id, name))

    async def rename_sieve_script(self, account_id: int | None, old: str, new: str) -> None:
        await self._write(lambda c: _rename(c, _owner(account_id), old, new))

    async def delete_sieve_script(self, account_id: int | None, name: str) -> None:
        await self._write(lambda c: _delete(c, _owner(account_id), name))

    async def sieve_seen(self, account_id: int, key: str, now: float) -> bool:
        return bool(await self._read(lambda c: c.fetchval(
            "SELECT 1 FROM sieve_tracking WHERE account_id = $1 AND key = $2 AND expires > $3", account_id, key, now)))

    async def sieve_remember(self, account_id: int, key: str, expires: float, now: float) -> None:
        await self._write(lambda c: _remember(c, account_id, key, expires, now))
