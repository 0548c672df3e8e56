"""The PostgreSQL change feed's own duty: a listening connection that stops answering (a network
partition gives no error) is replaced, and what changed meanwhile still wakes the waiters."""

from __future__ import annotations

import asyncio

import pytest

from pillarbox.store.postgres import feed
from pillarbox.store.records import DeliveryTarget
from tests.store.conftest import message
from tests.store_contract.test_messages import _account


@pytest.mark.parametrize("backend", ["postgres"])
def test_a_silent_listener_connection_is_replaced(with_store, monkeypatch):
    monkeypatch.setattr(feed, "POLL_INTERVAL", 0.1)
    monkeypatch.setattr(feed, "PING_TIMEOUT", 0.2)

    async def body(store) -> None:
        _, inbox = await _account(store)
        deaf = store.changes._conn

        real_ping = feed.ping

        async def silent_on_deaf(conn) -> None:  # the server no longer answers on that connection
            if conn is deaf:
                await asyncio.Event().wait()
            await real_ping(conn)

        monkeypatch.setattr(feed, "ping", silent_on_deaf)
        known = {inbox.id: (await store.get_mailbox_by_id(inbox.id)).highestmodseq}
        waiting = asyncio.create_task(store.changes.wait(known, timeout=20))
        for _ in range(200):
            if store.changes._conn is not deaf and store.changes.listening:
                break
            await asyncio.sleep(0.05)
        assert store.changes._conn is not deaf and deaf.is_closed()
        await store.deliver(message(), [DeliveryTarget(inbox.id)])
        assert await waiting

    with_store(body)
