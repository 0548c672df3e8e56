"""Mailboxes (folders) on PostgreSQL: create, list, rename with children, delete, counters, row locks.

A writer that changes a mailbox's messages locks the mailbox row first (``lock``) and takes its MODSEQ
after: per mailbox, UIDs and MODSEQs are then handed out in commit order, across every node.
"""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

from pillarbox.errors import AlreadyExists, NotFound
from pillarbox.store.names import HIERARCHY_DELIMITER, canonical_name, new_folder_name
from pillarbox.store.postgres.modseq import modseq_watermark
from pillarbox.store.records import Mailbox

_COLUMNS = (
    "id, account_id, name, uidvalidity, uidnext, highestmodseq, special_use,"
    " EXISTS (SELECT 1 FROM subscriptions s WHERE s.account_id = mailboxes.account_id AND s.name = mailboxes.name),"
    " message_count, unseen_count, total_size, deleted_count, recent_uid"
)


CEILING_STEP = 1_000_000
"""How far above a MODSEQ a durable commit raises the ceiling below which flag changes need no flush: a
crash skips at most this many MODSEQs (RFC 7162 allows gaps), and one flag change in this many waits."""


async def defer_commit(conn: asyncpg.Connection) -> None:
    """This transaction (a flag change) commits without waiting for the WAL flush; even one that changes
    nothing has locked rows, and would wait for it (schema migration 8)."""
    await conn.execute("SET LOCAL synchronous_commit = off")


async def deferred_modseq(conn: asyncpg.Connection) -> int:
    """A MODSEQ for a transaction ``defer_commit`` made asynchronous: one below the durable ceiling
    leaves it so; at the ceiling the transaction commits durably after all, and raises the ceiling."""
    modseq, ceiling = await conn.fetchrow(
        "SELECT pillarbox_next_modseq(), value FROM counters WHERE name = 'modseq_ceiling'")
    if modseq >= ceiling:
        await conn.execute("SET LOCAL synchronous_commit = on")
        await conn.execute("UPDATE counters SET value = greatest(value, $1) WHERE name = 'modseq_ceiling'",
                           modseq + CEILING_STEP)
    return int(modseq)


async def next_uidvalidity(conn: asyncpg.Connection, now: int, count: int = 1) -> int:
    """Reserve ``count`` UIDVALIDITY values; the first is returned. RFC 9051 2.3.1.1: a mailbox deleted and
    created again under the same name gets a new one; values follow the clock but never repeat or go back."""
    last = await conn.fetchval(
        "UPDATE counters SET value = greatest($1::bigint + $2 - 1, value + $2) WHERE name = 'uidvalidity'"
        " RETURNING value", now, count)
    return int(last) - count + 1


async def lock(conn: asyncpg.Connection, mailbox_ids: Iterable[int]) -> None:
    """Lock mailbox rows until COMMIT, in id order (two writers locking the same rows never deadlock)."""
    await conn.execute("SELECT 1 FROM mailboxes WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE",
                       sorted(set(mailbox_ids)))


async def insert_mailbox(
    conn: asyncpg.Connection, account_id: int, name: str, special_use: str | None, uidvalidity: int,
    subscribe: bool = False,
) -> int:
    """A new mailbox row; ``subscribe``: the default folders of a new account, which clients that show
    subscribed folders only should see. CREATE does not subscribe (RFC 3501 6.3.3, 6.3.6)."""
    mailbox_id = await conn.fetchval(
        "INSERT INTO mailboxes (account_id, name, uidvalidity, highestmodseq, special_use)"
        " VALUES ($1, $2, $3, pillarbox_next_modseq(), $4) ON CONFLICT (account_id, name) DO NOTHING RETURNING id",
        account_id, name, uidvalidity, special_use)
    if mailbox_id is None:
        raise AlreadyExists(f"folder {name} exists already")
    if subscribe:
        await conn.execute("INSERT INTO subscriptions (account_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                           account_id, name)
    return int(mailbox_id)


def mailbox_from_row(row: asyncpg.Record) -> Mailbox:
    return Mailbox(
        id=row[0], account_id=row[1], name=row[2], uidvalidity=row[3], uidnext=row[4],
        highestmodseq=row[5], special_use=row[6], subscribed=bool(row[7]), messages=row[8],
        unseen=row[9], size=row[10], deleted=row[11], recent_uid=row[12],
    )


async def list_mailboxes(conn: asyncpg.Connection, account_id: int) -> list[Mailbox]:
    rows = await conn.fetch(f'SELECT {_COLUMNS} FROM mailboxes WHERE account_id = $1 ORDER BY name COLLATE "C"',
                            account_id)
    return [mailbox_from_row(row) for row in rows]


async def get_mailbox(conn: asyncpg.Connection, account_id: int, name: str) -> Mailbox | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM mailboxes WHERE account_id = $1 AND name = $2",
                              account_id, canonical_name(name))
    return mailbox_from_row(row) if row else None


async def get_mailbox_by_id(conn: asyncpg.Connection, mailbox_id: int) -> Mailbox | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM mailboxes WHERE id = $1", mailbox_id)
    return mailbox_from_row(row) if row else None


async def require_mailbox(conn: asyncpg.Connection, account_id: int, name: str) -> Mailbox:
    found = await get_mailbox(conn, account_id, name)
    if found is None:
        raise NotFound(f"no folder {name}")
    return found


async def create_mailbox(
    conn: asyncpg.Connection, account_id: int, name: str, special_use: str | None, now: int
) -> Mailbox:
    uidvalidity = await next_uidvalidity(conn, now)
    mailbox_id = await insert_mailbox(conn, account_id, new_folder_name(name), special_use, uidvalidity)
    found = await get_mailbox_by_id(conn, mailbox_id)
    assert found is not None
    return found


async def rename_mailbox(conn: asyncpg.Connection, account_id: int, old: str, new: str) -> None:
    """RFC 9051 6.3.6: children move too. (Renaming INBOX is composed by the store: it moves messages.)"""
    old, new = canonical_name(old), canonical_name(new)
    await require_mailbox(conn, account_id, old)
    if await get_mailbox(conn, account_id, new) is not None:
        raise AlreadyExists(f"folder {new} exists already")
    prefix = old + HIERARCHY_DELIMITER
    renamed = await conn.fetch(
        "SELECT id, name FROM mailboxes WHERE account_id = $1 AND (name = $2 OR left(name, $3) = $4)"
        " ORDER BY id FOR NO KEY UPDATE", account_id, old, len(prefix), prefix)
    for mailbox_id, name in renamed:
        target = new + name[len(old):]
        if await get_mailbox(conn, account_id, target) is not None:
            raise AlreadyExists(f"folder {target} exists already")
        await conn.execute("UPDATE mailboxes SET name = $1, highestmodseq = pillarbox_next_modseq() WHERE id = $2",
                           target, mailbox_id)
        # the subscription follows the folder, as users expect (RFC 9051 6.3.6 leaves it to the client)
        await conn.execute("DELETE FROM subscriptions WHERE account_id = $1 AND name = $2", account_id, target)
        await conn.execute("UPDATE subscriptions SET name = $1 WHERE account_id = $2 AND name = $3",
                           target, account_id, name)


async def remove_mailbox_row(conn: asyncpg.Connection, mailbox_id: int) -> None:
    """The row only: the caller has dropped the messages first."""
    await conn.execute("DELETE FROM expunged WHERE mailbox_id = $1", mailbox_id)
    await conn.execute("DELETE FROM mailboxes WHERE id = $1", mailbox_id)


async def set_subscribed(
    conn: asyncpg.Connection, account_id: int, name: str, subscribed: bool, must_exist: bool = True
) -> None:
    """SUBSCRIBE needs an existing mailbox (RFC 9051 6.3.7 allows the check) unless the caller checked
    it (a shared mailbox, not the account's); UNSUBSCRIBE does not, since a subscription outlives its
    mailbox."""
    name = canonical_name(name)
    if subscribed:
        if must_exist:
            await require_mailbox(conn, account_id, name)
        await conn.execute("INSERT INTO subscriptions (account_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                           account_id, name)
        return
    deleted = await conn.execute("DELETE FROM subscriptions WHERE account_id = $1 AND name = $2", account_id, name)
    if deleted == "DELETE 0" and must_exist:
        await require_mailbox(conn, account_id, name)


async def subscribed_without_mailbox(conn: asyncpg.Connection, account_id: int) -> list[str]:
    """Subscribed names whose mailbox does not exist (any more): LIST shows them \\NonExistent."""
    rows = await conn.fetch(
        "SELECT s.name FROM subscriptions s WHERE s.account_id = $1 AND NOT EXISTS"
        " (SELECT 1 FROM mailboxes m WHERE m.account_id = s.account_id AND m.name = s.name)"
        ' ORDER BY s.name COLLATE "C"', account_id)
    return [row[0] for row in rows]


async def claim_recent(conn: asyncpg.Connection, mailbox_id: int, through_uid: int, deferred: bool) -> int:
    """Raise the mailbox's \\Recent mark to ``through_uid``; the mark before, so the caller's recent
    messages are those above it up to ``through_uid``. The row lock makes the claim one caller's only,
    on any node; a mark that is there already costs no write. ``deferred``: the claim is in the flags'
    durability class (``defer_commit``)."""
    if deferred:
        await defer_commit(conn)
    before = await conn.fetchval("SELECT recent_uid FROM mailboxes WHERE id = $1 FOR NO KEY UPDATE", mailbox_id)
    if before is None:
        raise NotFound(f"no mailbox {mailbox_id}")
    if before < through_uid:
        await conn.execute("UPDATE mailboxes SET recent_uid = $1 WHERE id = $2", through_uid, mailbox_id)
    return int(before)


async def adjust_counts(
    conn: asyncpg.Connection, mailbox_id: int, modseq: int, *,
    messages: int = 0, unseen: int = 0, deleted: int = 0, size: int = 0, uidnext: int | None = None,
) -> None:
    """Keep the per-mailbox counters (STATUS in O(1)) and HIGHESTMODSEQ in step with a change."""
    await conn.execute(
        "UPDATE mailboxes SET message_count = message_count + $1, unseen_count = unseen_count + $2,"
        " deleted_count = deleted_count + $3, total_size = total_size + $4,"
        " highestmodseq = greatest(highestmodseq, $5), uidnext = coalesce($6, uidnext) WHERE id = $7",
        messages, unseen, deleted, size, modseq, uidnext, mailbox_id)


async def list_changed_since(conn: asyncpg.Connection, modseq: int) -> tuple[int, list[Mailbox]]:
    """(a MODSEQ below which every change is committed and listed, every mailbox changed after ``modseq``).
    Not in one snapshot: the mailboxes are read after the watermark is known (``modseq_watermark``)."""
    newest = await modseq_watermark(conn)
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM mailboxes WHERE highestmodseq > $1", modseq)
    return modseq if newest is None else max(newest, modseq), [mailbox_from_row(row) for row in rows]
