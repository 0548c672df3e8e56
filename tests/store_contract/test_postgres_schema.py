"""PostgreSQL schema upgrades: a database made before the extensions merge (schema 4) takes migrations 5
and 6 at start, keeps its mail, and the replaced delivery function stores what the new columns hold."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime, timedelta, timezone

import asyncpg

from pillarbox.store.postgres.schema import MIGRATIONS
from pillarbox.store.postgres.store import PostgresStore
from pillarbox.store.records import DeliveryTarget
from tests import pg_cluster, stores
from tests.store.conftest import message

BEFORE_EXTENSIONS = 4


async def _database_at(url: str, version: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE pillarbox_schema (version INTEGER NOT NULL)")
        await conn.execute("INSERT INTO pillarbox_schema VALUES ($1)", version)
        for script in MIGRATIONS[:version]:
            await conn.execute(script)
    finally:
        await conn.close()


def test_a_database_from_before_the_extensions_upgrades_in_place(postgres_cluster: pg_cluster.Cluster) -> None:
    admin = postgres_cluster.url()
    name = f"upgrade_{os.getpid()}"
    stores._admin(admin, f"CREATE DATABASE {name}")
    url = stores._sibling(admin, name)
    zoned = datetime(2026, 5, 6, 7, 8, 9, tzinfo=timezone(timedelta(hours=2)))

    async def body() -> None:
        await _database_at(url, BEFORE_EXTENSIONS)
        store = await PostgresStore.open(url)
        try:
            await store.add_domain("example.com")
            bob = await store.add_account("bob@example.com", "hash", None)
            inbox = await store.get_mailbox(bob.id, "INBOX")
            await store.deliver(message("Re: upgraded"), [DeliveryTarget(inbox.id, internal_date=zoned)])
            [entry] = await store.list_messages(inbox.id)
            assert entry.internal_date == zoned and entry.internal_date.utcoffset() == timedelta(hours=2)
            assert (await store.thread_fields(inbox.id))[1][1] == ("UPGRADED", True)
            async with store._db.pool.acquire() as conn:
                assert await conn.fetchval("SELECT version FROM pillarbox_schema") == len(MIGRATIONS)
                assert await conn.fetchval("SELECT count(*) FROM pg_proc WHERE proname = 'pillarbox_deliver'") == 1
        finally:
            await store.close()

    try:
        asyncio.run(body())
    finally:
        stores.drop_database(admin, url)
