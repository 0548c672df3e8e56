"""A queue entry whose attempt hits a bug is logged and set aside, not retried in a tight loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pillarbox.config import Config
from pillarbox.dns.fake import FakeResolver
from pillarbox.queue.setup import build_runner
from pillarbox.store.records import OutboundRecipient, OutboundRequest, QueuedMessage
from tests.store.conftest import message
from tests.stores import open_at


def test_an_entry_that_hits_a_bug_keeps_its_lease_instead_of_coming_back_at_once(tmp_path: Path):
    async def run() -> None:
        store = await open_at(tmp_path)
        try:
            request = OutboundRequest("bob@example.com", (OutboundRecipient("x@remote.test"),))
            await store.deliver_and_queue(message(), [], request)
            runner = build_runner(Config(hostname="mx.test", data_dir=tmp_path), store, FakeResolver())

            async def broken(entry: QueuedMessage) -> None:
                raise RuntimeError("a bug")

            runner.attempt = broken  # type: ignore[method-assign]
            [entry] = await store.lease_queue(runner.owner, 60, 10)
            await runner.process(entry)
            assert await store.lease_queue(runner.owner, 60, 10) == []
            assert await store.next_queue_due() >= entry.recipients[0].next_attempt + 59
        finally:
            await store.close()

    asyncio.run(run())


def test_nodes_sharing_one_config_keep_their_leases_apart(tmp_path: Path, monkeypatch):
    """Every node has the same hostname (one config): the lease owner also names the machine, so a
    node that starts does not take back the leases another node is delivering under."""

    async def run() -> None:
        store = await open_at(tmp_path)
        try:
            request = OutboundRequest("bob@example.com", (OutboundRecipient("x@remote.test"),))
            await store.deliver_and_queue(message(), [], request)
            config = Config(hostname="mx.test", data_dir=tmp_path)
            monkeypatch.setattr("socket.gethostname", lambda: "node-a")
            first = build_runner(config, store, FakeResolver())
            monkeypatch.setattr("socket.gethostname", lambda: "node-b")
            second = build_runner(config, store, FakeResolver())
            assert first.owner != second.owner
            [entry] = await store.lease_queue(first.owner, 3600, 10)
            assert await store.reclaim_queue_leases(second.owner) == 0  # what `start` does
            assert (await store.get_queue_entry(entry.id)).lease_owner == first.owner
            assert await store.reclaim_queue_leases(first.owner) == 1  # node-a restarted: its own come back
        finally:
            await store.close()

    asyncio.run(run())


def test_two_nodes_on_one_machine_have_leases_of_their_own(tmp_path: Path):
    """``serve --node NAME`` on one machine (one hostname, one config): the node name is in the owner."""
    async def run() -> None:
        store = await open_at(tmp_path)
        try:
            owners = {build_runner(Config(hostname="mx.test", data_dir=tmp_path, node=node), store,
                                   FakeResolver()).owner for node in ("n2", "n3")}
            assert len(owners) == 2
        finally:
            await store.close()

    asyncio.run(run())
