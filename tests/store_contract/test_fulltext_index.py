"""The full-text index is filled after delivery: the backlog, batches, SEARCH catching up, deletion."""

from __future__ import annotations

import pytest

from pillarbox.store import prepare
from pillarbox.store.api import Store
from pillarbox.store.postgres import fulltext as pg_fulltext
from pillarbox.store.records import DeliveryTarget
from pillarbox.store.sqlite import store as sqlite_store
from pillarbox.store.sqlite.store import SQLiteStore
from tests import stores
from tests.store.conftest import message
from tests.store_contract.test_messages import LARGE_BODY, _account


async def _indexed_rows(store: Store) -> int:
    return int(await stores.fetch_value(store, *["SELECT count(*) FROM message_text"] * 2))


def test_delivery_leaves_indexing_for_later_and_search_catches_up(with_store):
    async def body(store: Store) -> None:
        _, inbox = await _account(store)
        await store.deliver(message("first", body="The zebra crossing.\r\n"), [DeliveryTarget(inbox.id)])
        await store.deliver(message("second", body=LARGE_BODY + "Zebra at the end.\r\n"), [DeliveryTarget(inbox.id)])
        backlog = await store.index_backlog()
        assert backlog.count == 2 and backlog.oldest_stored is not None and backlog.newest_id is not None
        assert await _indexed_rows(store) == 0
        assert await store.search_text(inbox.id, "ZEBRA", ("body",)) == {1, 2}  # indexed on demand
        assert (await store.index_backlog()).count == 0
        assert await _indexed_rows(store) == 2
        assert await store.search_text(inbox.id, "crossing", ("body",)) == {1}
        assert await store.search_text(inbox.id, "second", ("headers",)) == {2}

    with_store(body)


def test_search_indexes_only_its_own_mailbox(with_store):
    async def body(store: Store) -> None:
        _, bob = await _account(store, "bob@example.com")
        _, carol = await _account(store, "carol@example.com")
        await store.deliver(message("to bob", body="walrus\r\n"), [DeliveryTarget(bob.id)])
        await store.deliver(message("to carol", body="walrus\r\n"), [DeliveryTarget(carol.id)])
        assert await store.search_text(bob.id, "walrus", ("body",)) == {1}
        assert (await store.index_backlog()).count == 1  # carol's message still waits
        assert await store.search_text(carol.id, "walrus", ("body",)) == {1}
        assert (await store.index_backlog()).count == 0

    with_store(body)


def test_a_message_is_parsed_once_for_delivery_and_indexing(with_store, monkeypatch):
    """The indexer reads the structure stored at delivery instead of parsing the bytes again."""
    parses: list[int] = []
    real = prepare.parse_message

    def counting(raw: bytes) -> object:
        parses.append(len(raw))
        return real(raw)

    monkeypatch.setattr(prepare, "parse_message", counting)

    async def body(store: Store) -> None:
        _, inbox = await _account(store)
        await store.deliver(message("small", body="Kingfisher.\r\n"), [DeliveryTarget(inbox.id)])
        await store.deliver(message("large", body=LARGE_BODY + "Kingfisher.\r\n"), [DeliveryTarget(inbox.id)])
        assert len(parses) == 2
        assert await store.index_pending() == 2
        assert len(parses) == 2
        assert await store.search_text(inbox.id, "kingfisher", ("body",)) == {1, 2}
        assert await store.search_text(inbox.id, "large", ("headers",)) == {2}

    with_store(body)


@pytest.mark.parametrize("structure", ["", '{"v":99}'], ids=["none", "unknown-version"])
def test_a_message_whose_structure_cannot_be_read_is_parsed_for_the_index(with_store, structure):
    async def body(store: Store) -> None:
        _, inbox = await _account(store)
        await store.deliver(message("old row", body="Cormorant.\r\n"), [DeliveryTarget(inbox.id)])
        await stores.execute_sql(store, *[f"UPDATE messages SET structure = '{structure}'"] * 2)
        assert await store.search_text(inbox.id, "cormorant", ("body",)) == {1}

    with_store(body)


def test_index_pending_works_in_batches(with_store, monkeypatch):
    monkeypatch.setattr(prepare, "INDEX_BATCH", 3)

    async def body(store: Store) -> None:
        _, inbox = await _account(store)
        for n in range(7):
            await store.deliver(message(f"m{n}"), [DeliveryTarget(inbox.id)])
        assert [await store.index_pending() for _ in range(4)] == [3, 3, 1, 0]
        assert await _indexed_rows(store) == 7

    with_store(body)


def test_expunged_messages_leave_the_backlog_and_the_index(with_store):
    async def body(store: Store) -> None:
        _, inbox = await _account(store)
        for n in range(3):
            await store.deliver(message(f"m{n}", body="penguin\r\n"), [DeliveryTarget(inbox.id)])
        await store.expunge(inbox.id, [1])  # never indexed
        assert (await store.index_backlog()).count == 2
        assert await store.search_text(inbox.id, "penguin", ("body",)) == {2, 3}
        await store.expunge(inbox.id, [2])  # indexed
        assert await store.search_text(inbox.id, "penguin", ("body",)) == {3}
        assert await _indexed_rows(store) == 1
        assert await store.find_problems() == []

    with_store(body)


def test_a_message_whose_text_cannot_be_extracted_does_not_stall_the_rest(with_store, monkeypatch):
    real = prepare.index_text

    def failing(raw: bytes, structure_json: str | None = None) -> tuple[str, str]:
        if b"poison" in raw:
            raise ValueError("cannot decode")
        return real(raw, structure_json)

    monkeypatch.setattr(prepare, "index_text", failing)

    async def body(store: Store) -> None:
        _, inbox = await _account(store)
        await store.deliver(message("poison", body="otter\r\n"), [DeliveryTarget(inbox.id)])
        await store.deliver(message("fine", body="otter\r\n"), [DeliveryTarget(inbox.id)])
        assert await store.search_text(inbox.id, "otter", ("body",)) == {2}
        assert (await store.index_backlog()).count == 0

    with_store(body)


@pytest.mark.parametrize("size", [10, 1000])
def test_batches_are_bounded_by_bytes_but_never_empty(with_store, monkeypatch, size):
    monkeypatch.setattr(prepare, "INDEX_BATCH_BYTES", size)

    async def body(store: Store) -> None:
        _, inbox = await _account(store)
        for n in range(4):
            await store.deliver(message(f"m{n}", body="x" * 300 + "\r\n"), [DeliveryTarget(inbox.id)])
        first = await store.index_pending()
        assert first == (1 if size == 10 else 2)  # each message is about 480 octets

    with_store(body)


def test_the_consistency_check_finds_an_unsearchable_message(with_store):
    async def body(store: Store) -> None:
        _, inbox = await _account(store)
        await store.deliver(message("a"), [DeliveryTarget(inbox.id)])
        await store.deliver(message("b"), [DeliveryTarget(inbox.id)])
        await store.index_pending()
        await store.deliver(message("c"), [DeliveryTarget(inbox.id)])
        assert await store.find_problems() == []  # two indexed, one waiting
        await stores.execute_sql(
            store, "DELETE FROM message_text WHERE rowid = 1; INSERT INTO unindexed VALUES (2), (99)",
            "DELETE FROM message_text WHERE message_id = 1; INSERT INTO unindexed VALUES (2)")
        problems = sorted(await store.find_problems())
        if isinstance(store, SQLiteStore):  # PostgreSQL's foreign keys keep this one from happening
            assert problems.pop(0) == "1 index entr(ies) of messages that no longer exist"
        assert problems == [
            "1 message(s) indexed and still waiting to be indexed",
            "1 message(s) neither indexed for SEARCH nor waiting for it",
        ]

    with_store(body)


def test_search_catches_up_also_when_another_indexer_got_there_first(with_store, monkeypatch):
    """Two processes may take the same oldest batch; the one that finds it done must go on."""
    monkeypatch.setattr(prepare, "INDEX_BATCH", 2)

    async def body(store: Store) -> None:
        _, inbox = await _account(store)
        for n in range(5):
            await store.deliver(message(f"m{n}", body="heron\r\n"), [DeliveryTarget(inbox.id)])
        other = await stores.open_another(store)
        try:
            assert await other.index_pending() == 2  # the oldest two, by "another process" (or node)
        finally:
            await other.close()
        _read_first_batch_stale(store, monkeypatch)
        assert await store.search_text(inbox.id, "heron", ("body",)) == {1, 2, 3, 4, 5}
        assert (await store.index_backlog()).count == 0

    with_store(body)


def _read_first_batch_stale(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first batch the store reads is one another indexer has done just after the read."""
    calls: list[object] = []
    if isinstance(store, SQLiteStore):
        real = sqlite_store.fulltext.pending

        def stale_first(conn, limit, size, mailbox_id=None):
            calls.append(mailbox_id)
            return [(1, b"x", "x", ""), (2, b"x", "x", "")] if len(calls) == 1 else real(conn, limit, size, mailbox_id)

        monkeypatch.setattr(sqlite_store.fulltext, "pending", stale_first)
        return
    real_pg = pg_fulltext.pending

    async def stale_first_pg(conn, limit, size, mailbox_id=None):
        calls.append(mailbox_id)
        return [(1, b"x", ""), (2, b"x", "")] if len(calls) == 1 else await real_pg(conn, limit, size, mailbox_id)

    monkeypatch.setattr(pg_fulltext, "pending", stale_first_pg)
