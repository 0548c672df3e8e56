"""What each account sent and bounced lately, and its own sending rules, on PostgreSQL: the same rules
as ``sqlite/sending.py``; every node counts into the same rows, so the limits hold cluster-wide."""

from __future__ import annotations

import asyncpg

from pillarbox.store.records import SendingPolicy

Conn = asyncpg.Connection
KEEP_SECONDS = 86400
"""Sending events older than this are dropped as new ones are written (the limits look back one hour)."""


async def record(conn: Conn, account_id: int, kind: str, count: int, at: int) -> None:
    await conn.execute("INSERT INTO sending_events (account_id, kind, at, count) VALUES ($1, $2, $3, $4)",
                       account_id, kind, at, count)
    await conn.execute("DELETE FROM sending_events WHERE at < $1", at - KEEP_SECONDS)


async def totals(conn: Conn, account_id: int, since: int) -> dict[str, tuple[int, int]]:
    """kind → (events, sum of their counts) since ``since``."""
    rows = await conn.fetch(
        "SELECT kind, count(*), coalesce(sum(count), 0) FROM sending_events WHERE account_id = $1 AND at >= $2"
        " GROUP BY kind", account_id, since)
    return {kind: (int(events), int(total)) for kind, events, total in rows}


async def policy(conn: Conn, account_id: int) -> SendingPolicy:
    row = await conn.fetchrow(
        "SELECT messages_per_hour, recipients_per_hour, held_reason, held_at FROM sending_policies"
        " WHERE account_id = $1", account_id)
    return SendingPolicy(*row) if row is not None else SendingPolicy()


async def set_limits(conn: Conn, account_id: int, messages: int | None, recipients: int | None) -> None:
    await conn.execute(
        "INSERT INTO sending_policies (account_id, messages_per_hour, recipients_per_hour) VALUES ($1, $2, $3)"
        " ON CONFLICT (account_id) DO UPDATE SET messages_per_hour = excluded.messages_per_hour,"
        " recipients_per_hour = excluded.recipients_per_hour", account_id, messages, recipients)


async def set_held(conn: Conn, account_id: int, reason: str | None, at: int) -> None:
    await conn.execute(
        "INSERT INTO sending_policies (account_id, held_reason, held_at) VALUES ($1, $2, $3)"
        " ON CONFLICT (account_id) DO UPDATE SET held_reason = excluded.held_reason, held_at = excluded.held_at",
        account_id, reason, at if reason is not None else None)
