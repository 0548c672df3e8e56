"""PostgreSQL: flag changes commit without waiting for the WAL flush (as they ride the next flush on
SQLite), and no MODSEQ a client may have seen is handed out again after a crash lost some of them
(schema migration 8, ``mailboxes.flag_modseq``, ``connection._guard_modseqs``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg
import pytest

from pillarbox.store.postgres import mailboxes, messages
from pillarbox.store.postgres.mailboxes import CEILING_STEP
from pillarbox.store.postgres.store import PostgresStore
from pillarbox.store.records import DeliveryTarget
from tests import pg_cluster, stores
from tests.store.conftest import message

pytestmark = pytest.mark.skipif(pg_cluster.binaries() is None, reason="PostgreSQL is not installed")


async def _mailbox_with_mail(store: PostgresStore) -> int:
    await store.add_domain("example.com")
    bob = await store.add_account("bob@example.com", "hash", None)
    inbox = await store.get_mailbox(bob.id, "INBOX")
    await store.deliver(message("hello"), [DeliveryTarget(inbox.id)])
    await store.deliver(message("again"), [DeliveryTarget(inbox.id)])
    return inbox.id


async def _commit_mode(store: PostgresStore, mailbox_id: int, uid: int, deferred: bool) -> str:
    """synchronous_commit as the transaction of one flag change ends (the server's default is "on")."""
    return await _mode_after(store, lambda conn: messages.store_flags(
        conn, mailbox_id, [uid], "add", ["\\Flagged"], None, deferred))


async def _mode_after(store: PostgresStore, change: Callable[[asyncpg.Connection], Awaitable[object]]) -> str:
    async with store._db.pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL synchronous_commit = on")
        await change(conn)
        return str(await conn.fetchval("SHOW synchronous_commit"))


async def _ceiling(store: PostgresStore) -> int:
    async with store._db.pool.acquire() as conn:
        return int(await conn.fetchval("SELECT value FROM counters WHERE name = 'modseq_ceiling'"))


def test_flag_changes_below_the_ceiling_do_not_wait_for_the_flush(postgres_cluster: pg_cluster.Cluster) -> None:
    url = stores.fresh_database(postgres_cluster.url())

    async def body() -> None:
        store = await PostgresStore.open(url)
        try:
            inbox = await _mailbox_with_mail(store)
            assert await _commit_mode(store, inbox, 1, deferred=True) == "on"  # the first raises the ceiling
            first = (await store.list_messages(inbox))[0].modseq
            assert await _ceiling(store) == first + CEILING_STEP
            assert await _commit_mode(store, inbox, 2, deferred=True) == "off"
            assert await _ceiling(store) == first + CEILING_STEP
            await store.store_flags(inbox, [1], "remove", ["\\Flagged"])
            assert await _commit_mode(store, inbox, 1, deferred=False) == "on"  # flag_flush_delay = 0
            assert await _commit_mode(store, inbox, 2, deferred=True) == "off"  # changes nothing, locks rows
            # a \\Recent claim (SELECT in IMAP4rev1) is in the same durability class
            assert await _mode_after(store, lambda conn: mailboxes.claim_recent(conn, inbox, 2, True)) == "off"
            assert await _mode_after(store, lambda conn: mailboxes.claim_recent(conn, inbox, 2, False)) == "on"
        finally:
            await store.close()

    try:
        asyncio.run(body())
    finally:
        stores.drop_database(postgres_cluster.url(), url)


def test_after_a_crash_modseqs_start_past_every_one_a_lost_flag_change_used() -> None:
    """A crash (immediate stop: no shutdown checkpoint, crash recovery at the next start) may lose the
    last flag changes and the sequence's advance with them; the next MODSEQ is above the ceiling."""
    with pg_cluster.running_cluster(durable=True) as cluster:
        stores.make_template(cluster.url())
        url = stores.fresh_database(cluster.url())

        async def before_crash() -> tuple[int, int]:
            store = await PostgresStore.open(url)
            try:
                inbox = await _mailbox_with_mail(store)
                for uid in (1, 2, 1, 2):
                    await store.store_flags(inbox, [uid], "add" if uid == 1 else "remove", ["\\Seen"])
                # the login throttle's bookkeeping does not wait for the flush either (a durable server's
                # default is "on")
                def shown(conn: asyncpg.Connection) -> Awaitable[object]:
                    return conn.fetchval("SHOW synchronous_commit")
                assert (await store._write_deferred(shown), await store._write(shown)) == ("off", "on")
                return inbox, await _ceiling(store)
            finally:
                await store.close()

        inbox, ceiling = asyncio.run(before_crash())
        cluster.stop("immediate")
        cluster.resume()

        async def after_crash() -> None:
            store = await PostgresStore.open(url)
            try:
                changed = await store.store_flags(inbox, [1], "add", ["\\Answered"])
                assert changed.changed[0].modseq > ceiling
                assert (await store.get_mailbox_by_id(inbox)).highestmodseq > ceiling
            finally:
                await store.close()

        asyncio.run(after_crash())
