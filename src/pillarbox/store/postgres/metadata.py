"""METADATA annotations (RFC 5464) on PostgreSQL, the same rows and rules as ``sqlite/metadata.py``:
keyed by mailbox (0: the server), owner (0: /shared, else the account of a /private entry) and
lower-case entry name."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from pillarbox.errors import LimitReached


def _owner(name: str, account_id: int) -> int:
    return account_id if name.startswith("/private") else 0


async def list_metadata(conn: asyncpg.Connection, account_id: int, mailbox_id: int) -> dict[str, bytes]:
    rows = await conn.fetch(
        "SELECT name, value FROM metadata WHERE mailbox_id = $1 AND owner IN (0, $2)", mailbox_id, account_id)
    return {name: bytes(value) for name, value in rows}


async def account_metadata(conn: asyncpg.Connection, account_id: int) -> dict[int, dict[str, bytes]]:
    rows = await conn.fetch(
        "SELECT mailbox_id, name, value FROM metadata WHERE owner IN (0, $1) AND (mailbox_id = 0"
        " OR mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = $1))", account_id)
    found: dict[int, dict[str, bytes]] = {}
    for mailbox_id, name, value in rows:
        found.setdefault(mailbox_id, {})[name] = bytes(value)
    return found


async def set_metadata(
    conn: asyncpg.Connection, account_id: int, mailbox_id: int, changes: Sequence[tuple[str, bytes | None]],
    max_entries: int,
) -> None:
    """Set (or, for None, remove) each entry; LimitReached when an owner's entries on this mailbox would
    pass ``max_entries`` (the transaction is rolled back whole: 4.3, all or nothing)."""
    for name, value in changes:
        key = (mailbox_id, _owner(name, account_id), name.lower())
        if value is None:
            await conn.execute("DELETE FROM metadata WHERE mailbox_id = $1 AND owner = $2 AND name = $3", *key)
            continue
        await conn.execute(
            "INSERT INTO metadata (mailbox_id, owner, name, value) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (mailbox_id, owner, name) DO UPDATE SET value = excluded.value", *key, value)
        count = await conn.fetchval("SELECT count(*) FROM metadata WHERE mailbox_id = $1 AND owner = $2", *key[:2])
        if count > max_entries:
            raise LimitReached(f"at most {max_entries} annotations")
