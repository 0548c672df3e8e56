"""Small state every node shares: failed logins and pending password checks (the login throttle), the
networks each account logged in from, server secrets, DMARC aggregate-report data, and which node runs a
daily job. The rules are those of ``store/sqlite/logins.py``."""

from __future__ import annotations

import secrets
from collections.abc import Mapping

import asyncpg

from pillarbox.store.records import DMARC_COLUMNS

PENDING_LIFETIME = 60.0
"""Seconds after which a pending check is taken as lost (its process died): as on SQLite."""
SECRET_BYTES = 32
_IP_LOCK = 2  # advisory lock class (pg_advisory_xact_lock(2, hash of the IP)): one IP's adds in turn


async def count(conn: asyncpg.Connection, ip: str | None, account: str | None, since: float) -> tuple[int, int]:
    """Settled failures since ``since`` from ``ip`` and against ``account`` (0 for a None)."""
    query = "SELECT count(*) FROM login_failures WHERE {} = $1 AND at >= $2 AND NOT pending"
    by_ip = await conn.fetchval(query.format("ip"), ip, since) if ip else 0
    by_account = await conn.fetchval(query.format("account"), account, since) if account else 0
    return int(by_ip), int(by_account)


async def add(
    conn: asyncpg.Connection, ip: str, account: str | None, at: float, since: float, ip_limit: int, pending: bool
) -> tuple[int | None, int, int]:
    """(new row id or None, settled failures of the IP, of the account): None when the IP's failures, with
    its pending checks, already reach ``ip_limit``. Count and insert happen under a transaction lock on
    the IP, so parallel checks on any nodes never get past the limit together (SQLite's single writer
    gives the same)."""
    await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _IP_LOCK, ip)
    await conn.execute("DELETE FROM login_failures WHERE at < $1", since)
    by_ip, by_account = await count(conn, ip, account, since)
    checking = await conn.fetchval("SELECT count(*) FROM login_failures WHERE ip = $1 AND pending AND at >= $2",
                                   ip, at - PENDING_LIFETIME)
    if by_ip + checking >= ip_limit:
        return None, by_ip, by_account
    failure_id = await conn.fetchval(
        "INSERT INTO login_failures (ip, account, at, pending) VALUES ($1, $2, $3, $4) RETURNING id",
        ip, account, at, pending)
    return int(failure_id), by_ip, by_account


async def settle(conn: asyncpg.Connection, failure_id: int, failed: bool) -> None:
    if failed:
        await conn.execute("UPDATE login_failures SET pending = false WHERE id = $1", failure_id)
    else:
        await conn.execute("DELETE FROM login_failures WHERE id = $1", failure_id)


async def network_seen(conn: asyncpg.Connection, account: str, network: str, since: float) -> bool:
    return bool(await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM login_networks WHERE account = $1 AND network = $2 AND last_success >= $3)",
        account, network, since))


async def record_network(conn: asyncpg.Connection, account: str, network: str, at: float, forget_before: float) -> None:
    await conn.execute("DELETE FROM login_networks WHERE last_success < $1", forget_before)
    await conn.execute(
        "INSERT INTO login_networks (account, network, last_success) VALUES ($1, $2, $3) ON CONFLICT (account, network)"
        " DO UPDATE SET last_success = greatest(login_networks.last_success, excluded.last_success)",
        account, network, at)


async def server_secret(conn: asyncpg.Connection, name: str) -> bytes:
    """The secret called ``name``; the first caller (of any node) makes it, the others read that one."""
    await conn.execute("INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                       name, secrets.token_bytes(SECRET_BYTES))
    return bytes(await conn.fetchval("SELECT value FROM server_secrets WHERE name = $1", name))


async def count_dmarc(conn: asyncpg.Connection, day: str, row: Mapping[str, object]) -> None:
    values = [day if name == "day" else row[name] for name in DMARC_COLUMNS]
    names = ", ".join(DMARC_COLUMNS)
    marks = ", ".join(f"${n}" for n in range(1, len(DMARC_COLUMNS) + 1))
    await conn.execute(
        f"INSERT INTO dmarc_observations ({names}, count) VALUES ({marks}, 1)"
        f" ON CONFLICT ({names}) DO UPDATE SET count = dmarc_observations.count + 1", *values)


async def claim_daily_job(conn: asyncpg.Connection, job: str, day: str) -> bool:
    """True for the first node that claims ``job`` for ``day`` (the others' INSERT finds the row)."""
    status = await conn.execute(
        "INSERT INTO daily_jobs (job, day) VALUES ($1, $2) ON CONFLICT DO NOTHING", job, day)
    return status == "INSERT 0 1"


async def dmarc_observations(conn: asyncpg.Connection, day: str | None) -> list[dict[str, object]]:
    sql = f"SELECT {', '.join(DMARC_COLUMNS)}, count FROM dmarc_observations"
    if day:
        rows = await conn.fetch(sql + ' WHERE day = $1 ORDER BY policy_domain COLLATE "C", source_ip COLLATE "C"', day)
    else:
        rows = await conn.fetch(sql + ' ORDER BY day, policy_domain COLLATE "C", source_ip COLLATE "C"')
    return [dict(zip((*DMARC_COLUMNS, "count"), row, strict=True)) for row in rows]
