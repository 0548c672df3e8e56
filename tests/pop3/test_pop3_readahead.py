"""RETR and TOP read the store a batch of messages at a time, within a byte budget, in download order."""

from __future__ import annotations

import pytest

from pillarbox.errors import ProtocolError
from pillarbox.pop3 import replies
from pillarbox.pop3.maildrop import Maildrop
from pillarbox.pop3.readahead import LOOKAHEAD, ReadAhead
from pillarbox.store.sqlite.store import SQLiteStore
from tests.pop3.helpers import Driver, make_services, message, populate_store


class CountingStore:
    """The real store, counting the batches read and the UIDs asked for."""

    def __init__(self, store: SQLiteStore) -> None:
        self.store = store
        self.batches: list[list[int]] = []

    async def read_by_uids(self, mailbox_id: int, uids: list[int]) -> dict[int, bytes]:
        self.batches.append(list(uids))
        return await self.store.read_by_uids(mailbox_id, uids)


async def _snapshot(store: SQLiteStore, count: int) -> tuple[Maildrop, list[bytes]]:
    raws = [message(n) for n in range(1, count + 1)]
    inbox = await populate_store(store, raws)
    mailbox = await store.get_mailbox_by_id(inbox)
    assert mailbox is not None
    return Maildrop.snapshot(mailbox, await store.list_messages(inbox)), raws


def test_batches_follow_the_snapshot_within_the_budget(with_store):
    async def body(store: SQLiteStore) -> None:
        maildrop, raws = await _snapshot(store, 6)
        counting = CountingStore(store)
        bodies = ReadAhead(counting, budget=2 * len(raws[0]) + 10)  # type: ignore[arg-type]
        maildrop.delete(2)
        maildrop.retrieved.add(4)
        taken = [await bodies.take(maildrop, maildrop.get(n)) for n in (1, 3, 5, 6)]
        assert taken == [raws[0], raws[2], raws[4], raws[5]]
        assert counting.batches == [[1, 3], [5, 6]]  # deleted (2) and retrieved (4) are not read ahead

    with_store(body)


def test_a_message_above_the_budget_is_read_alone(with_store):
    async def body(store: SQLiteStore) -> None:
        maildrop, raws = await _snapshot(store, 3)
        counting = CountingStore(store)
        bodies = ReadAhead(counting, budget=10)  # type: ignore[arg-type]
        assert await bodies.take(maildrop, maildrop.get(2)) == raws[1]
        assert await bodies.take(maildrop, maildrop.get(1)) == raws[0]  # outside the batch: a new one
        assert counting.batches == [[2], [1]]

    with_store(body)


def test_a_batch_looks_at_most_lookahead_messages_ahead(with_store):
    async def body(store: SQLiteStore) -> None:
        maildrop, raws = await _snapshot(store, LOOKAHEAD + 5)
        counting = CountingStore(store)
        bodies = ReadAhead(counting, budget=10**9)  # type: ignore[arg-type]
        assert await bodies.take(maildrop, maildrop.get(1)) == raws[0]
        assert counting.batches == [list(range(1, LOOKAHEAD + 2))]

    with_store(body)


def test_expunged_before_its_batch_is_refused_after_is_sent(with_store):
    async def body(store: SQLiteStore) -> None:
        maildrop, raws = await _snapshot(store, 3)
        bodies = ReadAhead(store)
        await store.expunge(maildrop.mailbox.id, [1])
        with pytest.raises(ProtocolError) as refused:
            await bodies.take(maildrop, maildrop.get(1))
        assert refused.value.reply == replies.DELETED_ELSEWHERE
        await store.expunge(maildrop.mailbox.id, [3])  # after the batch [1, 2, 3] was read
        assert await bodies.take(maildrop, maildrop.get(3)) == raws[2]

    with_store(body)


def test_a_download_reads_the_store_once_per_batch(with_store):
    async def body(store: SQLiteStore) -> None:
        await populate_store(store, [message(n) for n in range(1, 6)])
        counting = CountingStore(store)
        services = make_services(store)
        driver = Driver(services, tls=True)
        driver.session.bodies = ReadAhead(counting)  # type: ignore[arg-type]
        await driver.start()
        await driver.login()
        for n in range(1, 6):
            assert (await driver.line(f"RETR {n}")).startswith("+OK")
        assert counting.batches == [[1, 2, 3, 4, 5]]
        await driver.close()

    with_store(body)
