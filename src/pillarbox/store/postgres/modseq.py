"""MODSEQs on PostgreSQL: drawn from one sequence by every writer, and how far they are all committed.

A sequence hands numbers out in one order and transactions commit in another: a change with MODSEQ 10
may commit after one with 11. Per mailbox that cannot happen (the mailbox row is locked before the draw,
``mailboxes.lock``), but a reader of every mailbox's changes (the spam learner's cursor) must not go past
a MODSEQ that may still commit: ``modseq_watermark`` says how far it may go.
"""

from __future__ import annotations

import asyncio

import asyncpg

from pillarbox.store.postgres.schema import MODSEQ_LOCK

WATERMARK_WAIT = 2.0
"""Seconds the watermark waits for the writers that may still commit a lower MODSEQ (they take ms)."""
WATERMARK_POLL = 0.005
_HOLDERS = """
SELECT array_agg(virtualtransaction) FROM pg_locks
 WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
   AND classid = $1::bigint::oid AND objid = $2::bigint::oid AND objsubid = 1 AND granted
   AND ($3::text[] IS NULL OR virtualtransaction = ANY($3::text[]))
"""


async def next_modseq(conn: asyncpg.Connection) -> int:
    """A new MODSEQ for this transaction (which holds MODSEQ_LOCK shared until it ends)."""
    return int(await conn.fetchval("SELECT pillarbox_next_modseq()"))


async def modseq_watermark(conn: asyncpg.Connection) -> int | None:
    """The highest MODSEQ drawn so far, once every transaction that may hold a lower one has ended; None
    when one is still open after WATERMARK_WAIT seconds. Every drawer holds MODSEQ_LOCK shared from before
    its draw to its end, so a MODSEQ drawn before ``drawn`` was read belongs either to a transaction that
    has ended or to one among the lock's holders read next; when those are gone, a statement started
    afterwards sees every committed MODSEQ up to ``drawn`` (the others were rolled back)."""
    drawn = await conn.fetchval("SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM modseq")
    holders = await _holders(conn, None)
    deadline = asyncio.get_running_loop().time() + WATERMARK_WAIT
    while holders:
        if asyncio.get_running_loop().time() > deadline:
            return None
        await asyncio.sleep(WATERMARK_POLL)
        holders = await _holders(conn, holders)
    return int(drawn)


async def _holders(conn: asyncpg.Connection, among: list[str] | None) -> list[str] | None:
    """The transactions holding MODSEQ_LOCK now (only those ``among`` when given); None for none."""
    return await conn.fetchval(_HOLDERS, MODSEQ_LOCK >> 32, MODSEQ_LOCK & 0xFFFFFFFF, among)
