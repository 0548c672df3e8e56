"""The full-text index for SEARCH on PostgreSQL: ``message_text`` with pg_trgm GIN indexes.

As on SQLite, delivery only notes a new message in ``unindexed``; the background indexer (every node
may run one: recording a batch deletes its backlog rows first, so a message is indexed once) or a
SEARCH that needs it first fills the index later, in batches. The text was folded when indexed
(``textfold``) and the needle is folded the same way, so ``LIKE '%needle%'`` is an exact substring
test: the same answers as SQLite's trigram phrase query, and answered from the trigram index for
needles of three characters or more.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from pillarbox.store.names import like_pattern
from pillarbox.store.postgres.messages import clean
from pillarbox.store.records import IndexBacklog
from pillarbox.store.textfold import fold


async def backlog(conn: asyncpg.Connection) -> IndexBacklog:
    count, newest, oldest = await conn.fetchrow(
        "SELECT count(*), max(message_id), min(message_id) FROM unindexed")
    created = None
    if oldest is not None:
        created = await conn.fetchval("SELECT created FROM messages WHERE id = $1", oldest)
    return IndexBacklog(count, newest, created)


async def pending(
    conn: asyncpg.Connection, limit: int, max_bytes: int, mailbox_id: int | None = None
) -> list[tuple[int, bytes, str]]:
    """Up to ``limit`` messages to index, oldest first, about ``max_bytes`` at most (always one), as
    (message id, bytes, structure as parsed at delivery); with ``mailbox_id``, only messages that
    mailbox holds."""
    where = ("WHERE EXISTS (SELECT 1 FROM mailbox_messages mm WHERE mm.message_id = u.message_id"
             " AND mm.mailbox_id = $2)") if mailbox_id is not None else ""
    sizes = await conn.fetch(
        f"SELECT u.message_id, m.size FROM unindexed u JOIN messages m ON m.id = u.message_id {where}"
        " ORDER BY u.message_id LIMIT $1", limit, *([mailbox_id] if mailbox_id is not None else []))
    chosen: list[int] = []
    total = 0
    for message_id, size in sizes:
        if chosen and total + size > max_bytes:
            break
        chosen.append(message_id)
        total += size
    rows = await conn.fetch("SELECT id, body, structure FROM messages WHERE id = ANY($1::bigint[]) ORDER BY id",
                            chosen)
    return [(row[0], bytes(row[1]), row[2]) for row in rows]


async def record(conn: asyncpg.Connection, texts: Sequence[tuple[int, str, str]]) -> int:
    """Index (message id, folded header text, folded body text) of each message that still waits (one
    may have been deleted, or indexed by another node or a concurrent SEARCH, meanwhile)."""
    waiting = await conn.fetch("DELETE FROM unindexed WHERE message_id = ANY($1::bigint[]) RETURNING message_id",
                               [message_id for message_id, _, _ in texts])
    still = {row[0] for row in waiting}
    await conn.executemany(
        "INSERT INTO message_text (message_id, headers, body) VALUES ($1, $2, $3)",
        [(message_id, clean(headers), clean(body)) for message_id, headers, body in texts if message_id in still])
    return len(still)


async def search_text(conn: asyncpg.Connection, mailbox_id: int, columns: tuple[str, ...], needle: str) -> set[int]:
    """UIDs of the mailbox whose indexed text contains ``needle`` (any case, any accents) in one of ``columns``."""
    tests = " OR ".join(f"t.{column} LIKE $2" for column in columns)
    rows = await conn.fetch(
        "SELECT mm.uid FROM mailbox_messages mm JOIN message_text t ON t.message_id = mm.message_id"
        f" WHERE mm.mailbox_id = $1 AND ({tests or 'false'})", mailbox_id, like_pattern(clean(fold(needle)) or ""))
    return {row[0] for row in rows}
