"""The outbound queue on PostgreSQL, with DKIM keys, the MTA-STS policy cache and TLS-RPT counters.

Every node runs a queue runner. A runner leases due entries with ``SELECT … FOR UPDATE SKIP LOCKED``:
two nodes leasing at the same moment skip each other's rows instead of waiting, and the lease
(owner, until) keeps every other runner off the entry until it ends, so a node that dies mid-delivery
gives its entries back when the lease expires. A recipient's 250 is recorded before anything else
happens, so an entry taken over after a crash never sends that recipient the message again.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from pillarbox.store.postgres.messages import release_messages
from pillarbox.store.records import (
    CachedPolicy,
    DKIMKey,
    OutboundRequest,
    QueuedMessage,
    QueuedRecipient,
    QueueSummary,
    RecipientUpdate,
)


async def enqueue(conn: asyncpg.Connection, message_id: int, request: OutboundRequest, now: int) -> str:
    """Queue ``request``; returns its queue id. The row id is this module's own business: every function
    here takes and gives the queue id (``OutboundRequest.queue_id``), the same on every node. A held
    message (FUTURERELEASE) is created at its release: first attempt, delay notices and expiry count from there."""
    start = max(now, request.release_at or now)
    rowid = await conn.fetchval(
        "INSERT INTO queue (public_id, message_id, sender, envid, ret, body, smtputf8, auth_user, created,"
        " requiretls, priority, deliver_by, by_mode) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        " RETURNING id",
        request.queue_id, message_id, request.sender, request.envid, request.ret, request.body, request.smtputf8,
        request.auth_user, start, request.requiretls, request.priority, request.deliver_by, request.by_mode)
    await conn.executemany(
        "INSERT INTO queue_recipients (queue_id, position, address, orcpt, notify, next_attempt)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        [(rowid, n, r.address, r.orcpt, ",".join(r.notify), start) for n, r in enumerate(request.recipients)])
    await conn.execute("UPDATE messages SET refs = refs + 1 WHERE id = $1", message_id)
    return request.queue_id


_MESSAGE_COLUMNS = (
    "id, public_id, message_id, sender, envid, ret, body, smtputf8, auth_user, held, created, lease_owner, lease_until,"
    " requiretls, priority, deliver_by, by_mode"
)
_RECIPIENT_COLUMNS = (
    "queue_id, position, address, orcpt, notify, state, attempts, next_attempt, last_error, status, remote_mta,"
    " reported"
)


async def lease_due(conn: asyncpg.Connection, owner: str, now: int, until: int, limit: int) -> list[QueuedMessage]:
    """Lease up to ``limit`` entries with a pending recipient due, or with none pending (DSNs, removal);
    highest MT-PRIORITY first (RFC 6710), then oldest."""
    rows = await conn.fetch(
        "WITH due AS (SELECT q.id FROM queue q WHERE NOT q.held AND q.lease_until <= $1 AND (EXISTS ("
        " SELECT 1 FROM queue_recipients r WHERE r.queue_id = q.id AND r.state = 'pending' AND r.next_attempt <= $1)"
        " OR NOT EXISTS (SELECT 1 FROM queue_recipients r WHERE r.queue_id = q.id AND r.state = 'pending'))"
        " ORDER BY q.priority DESC, q.id LIMIT $2 FOR UPDATE SKIP LOCKED)"
        " UPDATE queue SET lease_owner = $3, lease_until = $4 FROM due WHERE queue.id = due.id RETURNING queue.id",
        now, limit, owner, until)
    leased = await _entries(conn, "WHERE id = ANY($1::bigint[])", [[row[0] for row in rows]])
    return sorted(leased, key=lambda entry: -entry.priority)  # stable: oldest first within a priority


async def next_due(conn: asyncpg.Connection) -> int | None:
    """When the earliest pending recipient of an entry that is not held is due (for the runner's sleep)."""
    found = await conn.fetchval(
        "SELECT min(greatest(r.next_attempt, q.lease_until)) FROM queue_recipients r JOIN queue q ON q.id = r.queue_id"
        " WHERE NOT q.held AND r.state = 'pending'")
    return int(found) if found is not None else None


async def reclaim_leases(conn: asyncpg.Connection, owner: str) -> int:
    """Leases a previous run of this node left behind (a crash, SIGKILL): free them at start."""
    status = await conn.execute("UPDATE queue SET lease_owner = NULL, lease_until = 0 WHERE lease_owner = $1", owner)
    return _count(status)


async def release_lease(conn: asyncpg.Connection, queue_id: str, owner: str) -> None:
    await conn.execute(
        "UPDATE queue SET lease_owner = NULL, lease_until = 0 WHERE public_id = $1 AND lease_owner = $2",
        queue_id, owner)


async def update_recipients(
    conn: asyncpg.Connection, queue_id: str, updates: Sequence[RecipientUpdate], now: int
) -> None:
    await conn.executemany(
        "UPDATE queue_recipients SET state = $1, next_attempt = $2, last_error = $3, status = $4,"
        " remote_mta = coalesce($5, remote_mta), attempts = attempts + $6, updated = $7"
        f" WHERE queue_id = {_ROWID.format('$8')} AND position = $9",
        [(u.state, u.next_attempt, u.last_error, u.status, u.remote_mta, int(u.counts), now, queue_id, u.position)
         for u in updates])


async def mark_reported(conn: asyncpg.Connection, queue_id: str, positions: Sequence[int], action: str) -> None:
    await conn.execute(
        "UPDATE queue_recipients SET reported = CASE WHEN reported = '' THEN $1 ELSE reported || ',' || $1 END"
        f" WHERE queue_id = {_ROWID.format('$2')} AND position = ANY($3::int[])", action, queue_id, list(positions))


async def delete_entry(conn: asyncpg.Connection, queue_id: str) -> bool:
    message_id = await conn.fetchval("DELETE FROM queue WHERE public_id = $1 RETURNING message_id", queue_id)
    if message_id is None:
        return False
    await release_messages(conn, [message_id])
    return True


_ROWID = "(SELECT id FROM queue WHERE public_id = {})"


async def entries(conn: asyncpg.Connection, queue_ids: Sequence[str] | None = None) -> list[QueuedMessage]:
    """The entries with these queue ids (every entry when None), oldest first, each with its recipients."""
    if queue_ids is None:
        return await _entries(conn, "", [])
    return await _entries(conn, "WHERE public_id = ANY($1::text[])", [list(queue_ids)])


async def _entries(conn: asyncpg.Connection, where: str, args: list[object]) -> list[QueuedMessage]:
    rows = await conn.fetch(f"SELECT {_MESSAGE_COLUMNS} FROM queue {where} ORDER BY id", *args)
    recipients: dict[int, list[QueuedRecipient]] = {}
    for r in await conn.fetch(f"SELECT {_RECIPIENT_COLUMNS} FROM queue_recipients"
                              " WHERE queue_id = ANY($1::bigint[]) ORDER BY position", [row[0] for row in rows]):
        recipients.setdefault(r[0], []).append(_recipient(r))
    return [_message(row, recipients.get(row[0], [])) for row in rows]


async def summary(conn: asyncpg.Connection) -> QueueSummary:
    """(Inside one snapshot: the counts and the entries agree.)"""
    rows = await conn.fetch("SELECT CASE WHEN q.held THEN 'held' ELSE r.state END AS s, count(*)"
                            " FROM queue_recipients r JOIN queue q ON q.id = r.queue_id GROUP BY s")
    entries, oldest = await conn.fetchrow("SELECT count(*), min(created) FROM queue")
    return QueueSummary(entries, {state: count for state, count in rows}, oldest)


async def retry_now(conn: asyncpg.Connection, queue_ids: Sequence[str] | None, now: int) -> int:
    """Make pending recipients due now (all entries when ``queue_ids`` is None); returns how many."""
    if queue_ids is None:
        return _count(await conn.execute(
            "UPDATE queue_recipients SET next_attempt = $1 WHERE state = 'pending'", now))
    return _count(await conn.execute(
        "UPDATE queue_recipients SET next_attempt = $1 WHERE state = 'pending'"
        " AND queue_id IN (SELECT id FROM queue WHERE public_id = ANY($2::text[]))", now, list(queue_ids)))


async def set_held(conn: asyncpg.Connection, queue_id: str, held: bool) -> bool:
    return _count(await conn.execute("UPDATE queue SET held = $1 WHERE public_id = $2", held, queue_id)) > 0


def _count(status: str) -> int:
    """The row count of a command status such as ``UPDATE 3``."""
    return int(status.rpartition(" ")[2])


def _message(row: asyncpg.Record, recipients: list[QueuedRecipient]) -> QueuedMessage:
    (_, queue_id, message_id, sender, envid, ret, body, smtputf8, auth_user, held, created, owner, until,
     requiretls, priority, deliver_by, by_mode) = row
    return QueuedMessage(queue_id, message_id, sender, envid, ret, body, smtputf8, auth_user, held, created,
                         tuple(recipients), owner, until, requiretls, priority, deliver_by, by_mode)


def _recipient(row: asyncpg.Record) -> QueuedRecipient:
    _, position, address, orcpt, notify, state, attempts, next_attempt, last_error, status, remote_mta, reported = row
    return QueuedRecipient(
        position, address, orcpt, tuple(n for n in notify.split(",") if n), state, attempts, next_attempt,
        last_error, status, remote_mta, tuple(a for a in reported.split(",") if a),
    )


# ------------------------------------------------------------------------ DKIM keys, MTA-STS, TLS-RPT


async def add_dkim_key(conn: asyncpg.Connection, key: DKIMKey) -> None:
    await conn.execute(
        "INSERT INTO dkim_keys (domain, selector, algorithm, private_key, public_key, active, created)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        key.domain, key.selector, key.algorithm, key.private_key, key.public_key, key.active, key.created)


async def retire_dkim_keys(conn: asyncpg.Connection, domain: str) -> int:
    return _count(await conn.execute("UPDATE dkim_keys SET active = false WHERE domain = $1 AND active", domain))


async def dkim_keys(conn: asyncpg.Connection, domain: str, active_only: bool) -> list[DKIMKey]:
    where = " AND active" if active_only else ""
    rows = await conn.fetch(
        "SELECT domain, selector, algorithm, private_key, public_key, active, created FROM dkim_keys"
        f' WHERE domain = $1{where} ORDER BY created, selector COLLATE "C"', domain)
    return [DKIMKey(*row) for row in rows]


async def put_policy(conn: asyncpg.Connection, policy: CachedPolicy) -> None:
    await conn.execute(
        "INSERT INTO mtasts_policies (domain, policy_id, policy, fetched, expires) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (domain) DO UPDATE SET policy_id = excluded.policy_id, policy = excluded.policy,"
        " fetched = excluded.fetched, expires = excluded.expires",
        policy.domain, policy.policy_id, policy.policy, policy.fetched, policy.expires)


async def get_policy(conn: asyncpg.Connection, domain: str) -> CachedPolicy | None:
    row = await conn.fetchrow(
        "SELECT domain, policy_id, policy, fetched, expires FROM mtasts_policies WHERE domain = $1", domain)
    return CachedPolicy(*row) if row else None


async def tls_seen(conn: asyncpg.Connection, domain: str) -> int:
    return int(await conn.fetchval("SELECT level FROM tls_seen WHERE domain = $1", domain) or 0)


async def raise_tls_seen(conn: asyncpg.Connection, domain: str, level: int, now: int) -> None:
    await conn.execute(
        "INSERT INTO tls_seen (domain, level, updated) VALUES ($1, $2, $3) ON CONFLICT (domain) DO UPDATE"
        " SET level = excluded.level, updated = excluded.updated WHERE excluded.level > tls_seen.level",
        domain, level, now)


async def forget_tls_seen(conn: asyncpg.Connection, domain: str) -> bool:
    return _count(await conn.execute("DELETE FROM tls_seen WHERE domain = $1", domain)) > 0


async def list_tls_seen(conn: asyncpg.Connection) -> list[tuple[str, int, int]]:
    rows = await conn.fetch(f"SELECT domain, level, updated FROM tls_seen ORDER BY {_bytewise('domain')}")
    return [tuple(row) for row in rows]  # type: ignore[misc]


async def count_tls_result(
    conn: asyncpg.Connection, policy_domain: str, day: str, policy_type: str, mx_host: str, result: str
) -> None:
    await conn.execute(
        "INSERT INTO tls_results (policy_domain, day, policy_type, mx_host, result, count)"
        " VALUES ($1, $2, $3, $4, $5, 1) ON CONFLICT (policy_domain, day, policy_type, mx_host, result)"
        " DO UPDATE SET count = tls_results.count + 1", policy_domain, day, policy_type, mx_host, result)


async def tls_results(conn: asyncpg.Connection, day: str | None) -> list[tuple[str, str, str, str, str, int]]:
    sql = "SELECT policy_domain, day, policy_type, mx_host, result, count FROM tls_results"
    if day:
        rows = await conn.fetch(sql + " WHERE day = $1 ORDER BY " + _bytewise("policy_domain", "policy_type",
                                                                          "mx_host", "result"), day)
    else:
        rows = await conn.fetch(sql + " ORDER BY " + _bytewise("day", "policy_domain", "policy_type", "mx_host",
                                                                "result"))
    return [tuple(r) for r in rows]  # type: ignore[misc]


def _bytewise(*columns: str) -> str:
    """An ORDER BY list comparing text by bytes, as SQLite does, whatever the database's locale."""
    return ", ".join(f'{column} COLLATE "C"' for column in columns)
