"""Another process's commit wakes this process's change feed at once, not at its next poll."""

from __future__ import annotations

import asyncio

from pillarbox.store.records import DeliveryTarget
from pillarbox.store.sqlite import feed
from pillarbox.store.sqlite.store import SQLiteStore
from tests.store.conftest import message
from tests.store_contract.test_messages import _account


def test_a_commit_elsewhere_wakes_the_feed_without_waiting_for_the_poll(with_store, monkeypatch):
    monkeypatch.setattr(feed, "POLL_INTERVAL", 3600.0)  # only the wake-up can be in time

    async def body(store: SQLiteStore) -> None:
        _, inbox = await _account(store)
        other = SQLiteStore.open(store.data_dir, checkpoints=False)  # as a worker or the CLI
        try:
            box = await store.get_mailbox_by_id(inbox.id)
            waiting = asyncio.create_task(store.changes.wait({inbox.id: box.highestmodseq}, timeout=10))
            await asyncio.sleep(0.2)  # the feed is listening
            gone = store.data_dir / "wake" / "999999999.0"  # left by a process killed long ago
            gone.touch()
            await other.deliver(message("from elsewhere"), [DeliveryTarget(inbox.id)])
            assert await asyncio.wait_for(waiting, 5) is True
            assert not gone.exists()  # nobody listened behind it: the sender removed it
        finally:
            await other.close()

    with_store(body)
