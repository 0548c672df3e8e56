"""PostgreSQL hands MODSEQs out from one sequence and transactions commit in any order: a change whose
MODSEQ was drawn first may commit after a higher one. A reader of every mailbox's changes (the spam
learner) that moves its cursor to the newest MODSEQ must still see the late lower one afterwards."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from pillarbox.store.records import DeliveryTarget
from tests.store.conftest import message
from tests.store_contract.test_messages import _account


@pytest.mark.parametrize("backend", ["postgres"])
def test_a_lower_modseq_committed_later_is_not_skipped(with_store):
    async def body(store) -> None:
        bob, inbox = await _account(store)
        archive = await store.create_mailbox(bob.id, "Lessons")
        [stored] = await store.deliver(message(), [DeliveryTarget(archive.id)])
        start, _ = await store.mailboxes_changed_since(0)
        blocker = await asyncpg.connect(store.url)
        try:
            blocking = blocker.transaction()
            await blocking.start()
            await blocker.execute("SELECT 1 FROM mailbox_messages WHERE mailbox_id = $1 FOR UPDATE", archive.id)
            # the flag change draws its MODSEQ, then waits for the row the blocker holds
            flagging = asyncio.create_task(store.store_flags(archive.id, [stored.uid], "add", ["\\Flagged"]))
            while not await blocker.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted"):
                await asyncio.sleep(0.01)
            [later] = await store.deliver(message(), [DeliveryTarget(inbox.id)])  # a higher MODSEQ, committed
            reading = asyncio.create_task(store.mailboxes_changed_since(start))
            await asyncio.wait([reading], timeout=0.5)  # a reader that does not wait has its answer by now
            await blocking.rollback()
            newest, first = await reading
            flagged = (await flagging).changed[0].modseq
        finally:
            await blocker.close()
        assert flagged < later.modseq  # drawn first, committed last
        _, second = await store.mailboxes_changed_since(newest)
        assert archive.id in {m.id for m in first} | {m.id for m in second}

    with_store(body)
