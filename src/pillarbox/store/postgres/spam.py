"""The per-user classifier's data and the learning job's ledger on PostgreSQL: the same rows and rules
as ``sqlite/spam.py`` (tokens are 63-bit hashes, BIGINT here). Lists travel as arrays: one statement
for all of a message's tokens."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from pillarbox.store.records import SpamMessageState, TokenCounts

PRUNE_TO = 0.9
"""Past its token budget, a user's rarest tokens go until this share of the budget is left."""
Conn = asyncpg.Connection


async def counts(conn: Conn, account_id: int, tokens: Sequence[int]) -> TokenCounts:
    row = await conn.fetchrow("SELECT spam, ham FROM spam_totals WHERE account_id = $1", account_id)
    spam, ham = (row[0], row[1]) if row is not None else (0, 0)
    if not spam and not ham:
        return TokenCounts(0, 0)
    rows = await conn.fetch("SELECT token, spam, ham FROM spam_tokens WHERE account_id = $1"
                            " AND token = ANY($2::bigint[])", account_id, list(tokens))
    return TokenCounts(spam, ham, {token: (s, h) for token, s, h in rows})


async def states(conn: Conn, account_id: int, message_ids: Sequence[int]) -> dict[int, SpamMessageState]:
    rows = await conn.fetch("SELECT message_id, filed, trained FROM spam_messages WHERE account_id = $1"
                            " AND message_id = ANY($2::bigint[])", account_id, list(message_ids))
    return {message_id: SpamMessageState(filed, trained) for message_id, filed, trained in rows}


async def train(conn: Conn, account_id: int, message_id: int, tokens: Sequence[int], as_: str | None,
                max_tokens: int) -> bool:
    """Learn the message as ``as_`` (``spam``/``ham``; None: forget it), undoing what it was learned
    as before; False when it already was. The ledger row is locked first: two nodes training the same
    message at once count it once."""
    await conn.execute("INSERT INTO spam_totals (account_id) VALUES ($1) ON CONFLICT DO NOTHING", account_id)
    await conn.execute("SELECT 1 FROM spam_totals WHERE account_id = $1 FOR UPDATE", account_id)
    before = await conn.fetchval("SELECT trained FROM spam_messages WHERE account_id = $1 AND message_id = $2",
                                 account_id, message_id)
    if before == as_:
        return False
    unique = sorted(set(tokens))
    if before is not None:
        await _count(conn, account_id, unique, before, -1)
    if as_ is not None:
        await _count(conn, account_id, unique, as_, 1)
    await conn.execute("INSERT INTO spam_messages (account_id, message_id, trained) VALUES ($1, $2, $3)"
                       " ON CONFLICT (account_id, message_id) DO UPDATE SET trained = excluded.trained",
                       account_id, message_id, as_)
    await _prune(conn, account_id, max_tokens)
    return True


async def _count(conn: Conn, account_id: int, tokens: list[int], kind: str, step: int) -> None:
    column = "spam" if kind == "spam" else "ham"
    await conn.execute(f"UPDATE spam_totals SET {column} = greatest(0, {column} + $1) WHERE account_id = $2",
                       step, account_id)
    if step > 0:
        await conn.execute(
            f"INSERT INTO spam_tokens (account_id, token, {column}) SELECT $1, token, 1 FROM unnest($2::bigint[])"
            f" AS token ON CONFLICT (account_id, token) DO UPDATE SET {column} = spam_tokens.{column} + 1",
            account_id, tokens)
        return
    await conn.execute(f"UPDATE spam_tokens SET {column} = greatest(0, {column} - 1) WHERE account_id = $1"
                       " AND token = ANY($2::bigint[])", account_id, tokens)
    await conn.execute("DELETE FROM spam_tokens WHERE account_id = $1 AND spam = 0 AND ham = 0", account_id)


async def _prune(conn: Conn, account_id: int, max_tokens: int) -> None:
    """Bounded size per user: past the budget, the tokens seen in the fewest messages go first."""
    count = await conn.fetchval("SELECT count(*) FROM spam_tokens WHERE account_id = $1", account_id)
    if count <= max_tokens:
        return
    await conn.execute(
        "DELETE FROM spam_tokens WHERE account_id = $1 AND token IN (SELECT token FROM spam_tokens"
        " WHERE account_id = $1 ORDER BY spam + ham LIMIT $2)", account_id, count - int(max_tokens * PRUNE_TO))


async def mark_filed(conn: Conn, mailbox_id: int, uids: Sequence[int]) -> None:
    """The filter put these messages in Junk: no user said so, nothing to learn until one moves them."""
    await conn.execute(
        "INSERT INTO spam_messages (account_id, message_id, filed)"
        " SELECT mb.account_id, mm.message_id, 'spam'"
        " FROM mailbox_messages mm JOIN mailboxes mb ON mb.id = mm.mailbox_id"
        " WHERE mm.mailbox_id = $1 AND mm.uid = ANY($2::bigint[])"
        " ON CONFLICT (account_id, message_id) DO UPDATE SET filed = 'spam'", mailbox_id, list(uids))


async def forget_account(conn: Conn, account_id: int) -> None:
    for table in ("spam_tokens", "spam_totals", "spam_messages", "sender_rules", "sending_events", "sending_policies"):
        await conn.execute(f"DELETE FROM {table} WHERE account_id = $1", account_id)


async def forget_gone_messages(conn: Conn) -> int:
    """Ledger rows of messages no longer stored (the maintenance job)."""
    status = await conn.execute(
        "DELETE FROM spam_messages s WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = s.message_id)")
    return int(status.rpartition(" ")[2])


async def cursor(conn: Conn, name: str) -> int:
    return int(await conn.fetchval("SELECT value FROM counters WHERE name = $1", name) or 0)


async def set_cursor(conn: Conn, name: str, value: int) -> None:
    await conn.execute("INSERT INTO counters (name, value) VALUES ($1, $2)"
                       " ON CONFLICT (name) DO UPDATE SET value = excluded.value", name, value)
