"""Consistency checks of a PostgreSQL store: what a crash or a bug must never leave behind.

The same checks as ``sqlite/integrity.py`` (PostgreSQL checks its own pages): every stored body
intact (its size and SHA-256 name), every mailbox counter equal to its rows, every reference count
right, every message either in the full-text index or in its backlog.
"""

from __future__ import annotations

import hashlib

import asyncpg

BATCH = 200


async def find_problems(conn: asyncpg.Connection) -> list[str]:
    problems = await _body_problems(conn)
    problems.extend(await _counter_problems(conn))
    problems.extend(await _index_problems(conn))
    return problems


async def _body_problems(conn: asyncpg.Connection) -> list[str]:
    problems = []
    last = 0
    while True:  # in batches: the bodies of a whole store do not fit in memory
        rows = await conn.fetch("SELECT id, blob, size, body FROM messages WHERE id > $1 ORDER BY id LIMIT $2",
                                last, BATCH)
        if not rows:
            return problems
        for message_id, blob, size, body in rows:
            if len(body) != size or hashlib.sha256(body).hexdigest() != blob:
                problems.append(f"message {message_id}: body {blob} is damaged")
        last = rows[-1][0]


async def _counter_problems(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch(
        """
        SELECT b.id, b.name, b.message_count, b.unseen_count, b.deleted_count, b.total_size, b.uidnext,
               count(mm.uid), count(mm.uid) FILTER (WHERE mm.system_flags & 1 = 0),
               count(mm.uid) FILTER (WHERE mm.system_flags & 8 != 0), coalesce(sum(m.size), 0),
               coalesce(max(mm.uid), 0)
        FROM mailboxes b
        LEFT JOIN mailbox_messages mm ON mm.mailbox_id = b.id
        LEFT JOIN messages m ON m.id = mm.message_id
        GROUP BY b.id ORDER BY b.id
        """)
    problems = []
    for mailbox_id, name, *numbers in rows:
        stored, actual = [int(n) for n in numbers[:5]], [int(n) for n in numbers[5:]]
        if stored[:4] != actual[:4] or stored[4] <= actual[4]:
            problems.append(f"mailbox {mailbox_id} ({name}): counters {stored} disagree with rows {actual}")
    orphans = await conn.fetchval(
        "SELECT count(*) FROM messages m WHERE refs != (SELECT count(*) FROM mailbox_messages mm"
        " WHERE mm.message_id = m.id) + (SELECT count(*) FROM queue q WHERE q.message_id = m.id)")
    if orphans:
        problems.append(f"{orphans} message(s) with a wrong reference count")
    return problems


async def _index_problems(conn: asyncpg.Connection) -> list[str]:
    """Every stored message is either in the full-text index or waiting for it, never both, never
    neither (it would be unsearchable for good). (Foreign keys keep index rows of deleted messages out.)"""
    unsearchable, both = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE t.message_id IS NULL AND u.message_id IS NULL),"
        " count(*) FILTER (WHERE t.message_id IS NOT NULL AND u.message_id IS NOT NULL) FROM messages m"
        " LEFT JOIN message_text t ON t.message_id = m.id LEFT JOIN unindexed u ON u.message_id = m.id")
    found = [(unsearchable, "message(s) neither indexed for SEARCH nor waiting for it"),
             (both, "message(s) indexed and still waiting to be indexed")]
    return [f"{count} {what}" for count, what in found if count]
