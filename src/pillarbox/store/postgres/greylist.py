"""Greylisting state on PostgreSQL, shared by every node: the same rules as ``sqlite/greylist.py``.
An attempt takes a transaction-level advisory lock on its triplet, so two nodes seeing the same retry
at once answer as one server would."""

from __future__ import annotations

import asyncpg

Conn = asyncpg.Connection


async def attempt(conn: Conn, triplet: str, network: str, now: int, delay: int, retry_window: int,
                  pass_count: int) -> str:
    """One delivery attempt of ``triplet`` from ``network`` (RFC 6647 2.1): ``client``, ``known``,
    ``passed``, ``early`` or ``new`` (see ``sqlite/greylist.py``)."""
    passes = await conn.fetchval("SELECT passes FROM greylist_clients WHERE network = $1", network)
    if passes is not None and passes >= pass_count:
        await conn.execute("UPDATE greylist_clients SET last_seen = $1 WHERE network = $2", now, network)
        return "client"
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", "greylist " + triplet)
    row = await conn.fetchrow("SELECT first_seen, passed FROM greylist WHERE triplet = $1", triplet)
    if row is None or (row[1] is None and now - row[0] > retry_window):
        await conn.execute(
            "INSERT INTO greylist (triplet, first_seen, passed, last_seen) VALUES ($1, $2, NULL, $2)"
            " ON CONFLICT (triplet) DO UPDATE SET first_seen = $2, passed = NULL, last_seen = $2", triplet, now)
        return "new"
    first_seen, passed = row
    if passed is None and now - first_seen < delay:
        await conn.execute("UPDATE greylist SET last_seen = $1 WHERE triplet = $2", now, triplet)
        return "early"
    await conn.execute("UPDATE greylist SET passed = coalesce(passed, $1), last_seen = $1 WHERE triplet = $2",
                       now, triplet)
    if passed is not None:
        return "known"
    await conn.execute("INSERT INTO greylist_clients (network, passes, last_seen) VALUES ($1, 1, $2)"
                       " ON CONFLICT (network) DO UPDATE SET passes = greylist_clients.passes + 1,"
                       " last_seen = excluded.last_seen", network, now)
    return "passed"


async def expire(conn: Conn, now: int, retry_window: int, max_age: int) -> int:
    """Forget triplets never retried in time and anything not seen for ``max_age`` seconds."""
    gone = await conn.execute("DELETE FROM greylist WHERE (passed IS NULL AND first_seen < $1) OR last_seen < $2",
                              now - retry_window, now - max_age)
    clients = await conn.execute("DELETE FROM greylist_clients WHERE last_seen < $1", now - max_age)
    return int(gone.rpartition(" ")[2]) + int(clients.rpartition(" ")[2])
