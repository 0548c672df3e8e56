"""Small state every node shares: failed logins (the login throttle), DMARC aggregate-report data, and
which node runs a daily job."""

from __future__ import annotations

from collections.abc import Mapping

import asyncpg

from pillarbox.store.records import DMARC_COLUMNS


async def count(conn: asyncpg.Connection, ip: str | None, account: str | None, since: float) -> tuple[int, int]:
    """Failures since ``since`` from ``ip`` and against ``account`` (0 for a None)."""
    query = "SELECT count(*) FROM login_failures WHERE kind = $1 AND key = $2 AND at >= $3"
    by_ip = await conn.fetchval(query, "ip", ip, since) if ip else 0
    by_account = await conn.fetchval(query, "account", account, since) if account else 0
    return int(by_ip), int(by_account)


async def add(conn: asyncpg.Connection, ip: str, account: str | None, at: float, forget_before: float) -> None:
    await conn.execute("DELETE FROM login_failures WHERE at < $1", forget_before)
    await conn.executemany("INSERT INTO login_failures (kind, key, at) VALUES ($1, $2, $3)",
                           [("ip", ip, at)] + ([("account", account, at)] if account else []))


async def clear_account(conn: asyncpg.Connection, account: str) -> None:
    await conn.execute("DELETE FROM login_failures WHERE kind = 'account' AND key = $1", account)


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
