"""``[queue] per_domain`` holds for every node of the store together: while other nodes run that many
deliveries to a domain, a runner sends nothing there and its recipients wait a little, without the wait
counting as an attempt (on SQLite: other processes on the data_dir)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pillarbox.config import Config, QueueConfig
from pillarbox.dns.fake import FakeResolver
from pillarbox.queue.runner import BUSY_RETRY
from pillarbox.queue.setup import build_runner
from pillarbox.store.records import OutboundRecipient, OutboundRequest
from tests import stores
from tests.store.conftest import message


@pytest.mark.parametrize("backend", stores.BACKENDS)
def test_a_runner_waits_while_other_nodes_hold_every_slot_of_the_destination(tmp_path: Path, store_url):
    async def run() -> None:
        store = await stores.open_store(tmp_path, store_url)
        other_node = await stores.open_another(store)
        try:
            request = OutboundRequest("bob@example.com", (OutboundRecipient("x@remote.test"),))
            await store.deliver_and_queue(message(), [], request)
            config = Config(hostname="mx.test", data_dir=tmp_path, queue=QueueConfig(per_domain=1))
            runner = build_runner(config, store, FakeResolver())
            assert await other_node.destination_slots().take("remote.test", 1) == 0
            [entry] = await store.lease_queue(runner.owner, 60, 10)
            before = int(runner.clock())
            await runner.attempt(entry)
            [waiting] = (await store.get_queue_entry(entry.id)).recipients
            assert (waiting.state, waiting.attempts) == ("pending", 0)  # not tried, and no attempt counted
            assert waiting.next_attempt >= before + BUSY_RETRY
            await other_node.destination_slots().release("remote.test", 0)
            await runner.attempt(entry)  # the slot is free: tried (the fake DNS has no remote.test)
            [tried] = (await store.get_queue_entry(entry.id)).recipients
            assert tried.attempts == 1 and tried.last_error
            assert await store.destination_slots().take("remote.test", 1) == 0  # and given back after
        finally:
            await other_node.close()
            await store.close()

    asyncio.run(run())
