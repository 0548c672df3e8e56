"""Per-user allow/block lists on PostgreSQL: the same rules as ``sqlite/sender_rules.py``."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from pillarbox.errors import NotFound
from pillarbox.store.records import SenderRule

Conn = asyncpg.Connection


async def add(conn: Conn, account_id: int, pattern: str, action: str, source: str, now: int) -> None:
    """A user's own entry replaces whatever was there; a remembered correspondent never replaces a user's entry."""
    keep_users = " WHERE sender_rules.source = 'sent'" if source == "sent" else ""
    await conn.execute(
        "INSERT INTO sender_rules (account_id, pattern, action, source, updated) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (account_id, pattern) DO UPDATE SET action = excluded.action, source = excluded.source,"
        " updated = excluded.updated" + keep_users, account_id, pattern, action, source, now)


async def remember(conn: Conn, account_id: int, addresses: Sequence[str], now: int, keep: int) -> None:
    """Addresses the user wrote to, allowed from now on; only the ``keep`` most recent are kept."""
    for address in addresses:
        await add(conn, account_id, address, "allow", "sent", now)
    await conn.execute(
        "DELETE FROM sender_rules WHERE account_id = $1 AND source = 'sent' AND pattern NOT IN"
        " (SELECT pattern FROM sender_rules WHERE account_id = $1 AND source = 'sent' ORDER BY updated DESC LIMIT $2)",
        account_id, keep)


async def delete(conn: Conn, account_id: int, pattern: str) -> None:
    status = await conn.execute("DELETE FROM sender_rules WHERE account_id = $1 AND pattern = $2", account_id, pattern)
    if status == "DELETE 0":
        raise NotFound(f"no allow or block entry for {pattern}")


async def matching(conn: Conn, account_id: int, patterns: Sequence[str]) -> dict[str, str]:
    rows = await conn.fetch("SELECT pattern, action FROM sender_rules WHERE account_id = $1"
                            " AND pattern = ANY($2::text[])", account_id, list(patterns))
    return {pattern: action for pattern, action in rows}


async def listing(conn: Conn, account_id: int | None) -> list[SenderRule]:
    where = "" if account_id is None else " WHERE r.account_id = $1"
    rows = await conn.fetch(
        "SELECT a.address, r.pattern, r.action, r.source, r.updated FROM sender_rules r"
        " JOIN accounts a ON a.id = r.account_id" + where +
        ' ORDER BY a.address COLLATE "C", r.source COLLATE "C" DESC, r.pattern COLLATE "C"',
        *(() if account_id is None else (account_id,)))
    return [SenderRule(*row) for row in rows]
