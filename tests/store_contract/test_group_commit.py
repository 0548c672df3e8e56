"""Concurrent deliveries on one node share a transaction (the SQLite writer's batches, PostgreSQL's
``batch.py``): within a batch every target still gets its own UID, MODSEQ, quota check and refusal,
counters add up, and the change feed hears of every mailbox; on PostgreSQL a batch is one statement
and one NOTIFY."""

from __future__ import annotations

import asyncio

import pytest

from pillarbox.errors import NotFound, QuotaExceeded
from pillarbox.store.api import Backend
from pillarbox.store.records import Appended, DeliveryTarget, Refused
from tests.store.conftest import message
from tests.store_contract.test_messages import _account


def test_a_batch_checks_quota_target_by_target_and_counts_what_it_stored(with_store):
    async def body(store: Backend) -> None:
        _, bob = await _account(store)
        _, carol = await _account(store, "carol@example.com")
        size = len(message("m0"))
        await store.set_quota("carol@example.com", size * 3 + 10, None)  # room for three
        results = await asyncio.gather(*(
            store.deliver(message(f"m{n}"), [DeliveryTarget(bob.id), DeliveryTarget(carol.id, frozenset({"\\Seen"}))])
            for n in range(5)))
        assert [r[0].uid for r in results] == [1, 2, 3, 4, 5]
        stored = [r[1] for r in results if isinstance(r[1], Appended)]
        refused = [r[1] for r in results if isinstance(r[1], Refused)]
        assert [a.uid for a in stored] == [1, 2, 3]
        assert len(refused) == 2 and all(isinstance(r.error, QuotaExceeded) for r in refused)
        carol_box = await store.get_mailbox_by_id(carol.id)
        assert (carol_box.messages, carol_box.unseen, carol_box.uidnext, carol_box.size) == (3, 0, 4, 3 * size)
        bob_box = await store.get_mailbox_by_id(bob.id)
        assert (bob_box.messages, bob_box.unseen) == (5, 5)
        modseqs = [r[0].modseq for r in results]
        assert modseqs == sorted(modseqs) and len(set(modseqs)) == 5
        assert bob_box.highestmodseq == modseqs[-1]
        assert await store.find_problems() == []

    with_store(body)


def test_a_missing_mailbox_in_a_batch_refuses_only_its_target(with_store):
    async def body(store: Backend) -> None:
        _, bob = await _account(store)
        results = await asyncio.gather(
            store.deliver(message("a"), [DeliveryTarget(bob.id)]),
            store.deliver(message("b"), [DeliveryTarget(999_999), DeliveryTarget(bob.id)]),
            store.deliver(message("c"), [DeliveryTarget(999_999)]))
        assert isinstance(results[1][0], Refused) and isinstance(results[1][0].error, NotFound)
        assert [results[0][0].uid, results[1][1].uid] == [1, 2]
        assert isinstance(results[2][0], Refused)
        assert len(await store.list_messages(bob.id)) == 2
        assert await store.find_problems() == []  # the message nobody took is gone

    with_store(body)


def test_a_waiter_hears_every_mailbox_a_batch_changed(with_store):
    async def body(store: Backend) -> None:
        boxes = [(await _account(store, f"u{n}@example.com"))[1] for n in range(4)]
        known = {box.id: (await store.get_mailbox_by_id(box.id)).highestmodseq for box in boxes}
        last = boxes[-1].id
        waiting = asyncio.create_task(store.changes.wait({last: known[last]}, timeout=20))
        await asyncio.gather(*(store.deliver(message(f"m{box.id}"), [DeliveryTarget(box.id)]) for box in boxes))
        assert await waiting

    with_store(body)


@pytest.mark.parametrize("backend", ["postgres"])
def test_concurrent_deliveries_leave_as_few_statements(with_store):
    async def body(store: Backend) -> None:
        _, inbox = await _account(store)
        await asyncio.gather(*(store.deliver(message(f"m{n}"), [DeliveryTarget(inbox.id)]) for n in range(40)))
        batcher = store._batcher
        assert batcher.deliveries == 40 and batcher.batches <= 2  # the first alone, then the 39 that queued

    with_store(body)


@pytest.mark.parametrize("backend", ["postgres"])
def test_a_batch_that_fails_is_retried_one_by_one(with_store, monkeypatch):
    from pillarbox.store.postgres import batch

    real = batch._call
    bad = message("bad")

    async def failing(conn, deliveries, now):
        if any(d.raw == bad for d in deliveries):
            raise ValueError("a value the server refused")
        return await real(conn, deliveries, now)

    monkeypatch.setattr(batch, "_call", failing)

    async def body(store: Backend) -> None:
        _, inbox = await _account(store)
        results = await asyncio.gather(*(store.deliver(raw, [DeliveryTarget(inbox.id)])
                                         for raw in (message("a"), bad, message("c"))), return_exceptions=True)
        assert isinstance(results[1], ValueError)
        assert [r[0].uid for r in (results[0], results[2])] == [1, 2]

    with_store(body)
