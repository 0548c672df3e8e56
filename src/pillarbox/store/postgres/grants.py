"""Sender grants on PostgreSQL: addresses an account may send as besides its own (``auth/directory.py``
reads them); part of the directory, so a change NOTIFYs every node's resolver cache."""

from __future__ import annotations

import asyncpg

from pillarbox.errors import AlreadyExists, NotFound
from pillarbox.store.postgres.directory import require_account_id
from pillarbox.store.records import SenderGrant


async def add(conn: asyncpg.Connection, user: str, address: str) -> SenderGrant:
    account_id = await require_account_id(conn, user)
    added = await conn.execute(
        "INSERT INTO sender_grants (account_id, address) VALUES ($1, $2) ON CONFLICT DO NOTHING", account_id, address)
    if added == "INSERT 0 0":
        raise AlreadyExists(f"{user} may send as {address} already")
    return SenderGrant(user, address)


async def delete(conn: asyncpg.Connection, user: str, address: str) -> None:
    account_id = await require_account_id(conn, user)
    deleted = await conn.execute(
        "DELETE FROM sender_grants WHERE account_id = $1 AND address = $2", account_id, address)
    if deleted == "DELETE 0":
        raise NotFound(f"{user} has no grant for {address}")


async def delete_account_grants(conn: asyncpg.Connection, account_id: int) -> None:
    await conn.execute("DELETE FROM sender_grants WHERE account_id = $1", account_id)


async def of_account(conn: asyncpg.Connection, user: str) -> tuple[str, ...]:
    rows = await conn.fetch(
        "SELECT g.address FROM sender_grants g JOIN accounts a ON a.id = g.account_id WHERE a.address = $1"
        ' ORDER BY g.address COLLATE "C"', user)
    return tuple(row[0] for row in rows)


async def list_all(conn: asyncpg.Connection) -> list[SenderGrant]:
    rows = await conn.fetch(
        "SELECT a.address, g.address FROM sender_grants g JOIN accounts a ON a.id = g.account_id"
        ' ORDER BY a.address COLLATE "C", g.address COLLATE "C"')
    return [SenderGrant(user, address) for user, address in rows]
