"""Shared mailbox snapshots, the compact per-session view on top of them, and the structure cache:
whatever they patch, share or fold, they must answer exactly as a fresh read of the store would."""

from __future__ import annotations

import asyncio
import random

import pytest

from pillarbox.imap import fetch, selected
from pillarbox.imap.fetch import FetchOptions, StructureCache, fetch_responses
from pillarbox.imap.parser.fetch_att import FetchAtt
from pillarbox.imap.selected import SelectedMailbox
from pillarbox.imap.snapshot import SnapshotCache, entry_at
from pillarbox.store.records import DeliveryTarget, MessageColumns
from pillarbox.store.sqlite.store import SQLiteStore
from tests.store.conftest import message

FLAGS = ("\\Seen", "\\Flagged", "\\Deleted", "$Work")


def _rows(columns: MessageColumns) -> list[tuple[object, ...]]:
    return [tuple(vars_of(entry_at(columns, i))) for i in range(len(columns.uids))]


def vars_of(entry: object) -> list[object]:
    return [getattr(entry, name) for name in ("uid", "message_id", "flags", "modseq", "size", "internal_seconds",
                                               "save_seconds")]


async def _inbox(store: SQLiteStore, count: int) -> int:
    await store.add_domain("example.com")
    account = await store.add_account("bob@example.com", "hash", None)
    inbox = await store.get_mailbox(account.id, "INBOX")
    assert inbox is not None
    for n in range(count):
        await store.deliver(message(f"m{n}"), [DeliveryTarget(inbox.id, frozenset(FLAGS[: n % 3]))])
    return inbox.id


async def _churn(store: SQLiteStore, mailbox_id: int, rng: random.Random) -> None:
    """Some appends, flag changes and expunges, as other sessions would make them."""
    uids = [entry.uid for entry in await store.list_messages(mailbox_id)]
    await store.store_flags(mailbox_id, rng.sample(uids, 3), rng.choice(["add", "remove", "replace"]),
                            rng.sample(FLAGS, 2))
    await store.expunge(mailbox_id, rng.sample(uids, 2))
    await store.deliver(message(f"new{rng.random()}"), [DeliveryTarget(mailbox_id, frozenset({"$Work"}))])


def test_a_cached_snapshot_is_patched_to_what_a_fresh_read_gives(with_store):
    async def body(store: SQLiteStore) -> None:
        mailbox_id = await _inbox(store, 12)
        cache = SnapshotCache()
        first = await cache.current(store, mailbox_id)
        rng = random.Random(7)
        for _ in range(5):
            await _churn(store, mailbox_id, rng)
            patched = await cache.current(store, mailbox_id)
            fresh = await store.list_columns(mailbox_id)
            assert _rows(patched) == _rows(fresh)
            assert patched.mailbox == fresh.mailbox
        assert _rows(first) != _rows(patched)  # snapshots are immutable: the first one is as it was
        assert await cache.current(store, mailbox_id) is patched  # nothing changed: shared as it is

    with_store(body)


@pytest.mark.parametrize("backend", ["sqlite"])  # SQLite hands out a deleted row's id again
def test_a_mailbox_created_again_under_the_same_id_is_read_again(with_store):
    async def body(store: SQLiteStore) -> None:
        await _inbox(store, 1)
        account = await store.get_account("bob@example.com")
        assert account is not None
        old = await store.create_mailbox(account.id, "Old")
        await store.deliver(message("old"), [DeliveryTarget(old.id)])
        cache = SnapshotCache()
        assert len((await cache.current(store, old.id)).uids) == 1
        await store.delete_mailbox(account.id, "Old")
        new = await store.create_mailbox(account.id, "New")
        assert new.id == old.id  # SQLite hands out the highest rowid again
        assert len((await cache.current(store, new.id)).uids) == 0

    with_store(body)


@pytest.mark.parametrize("compact_min", [0, 64])
def test_a_view_in_step_with_the_log_equals_the_store(with_store, monkeypatch, compact_min: int):
    """After every announced update the session's view (snapshot, copied UIDs, newer entries, folded
    or not) must be the mailbox as the store has it at the MODSEQ read."""
    monkeypatch.setattr(selected, "COMPACT_MIN", compact_min)

    async def body(store: SQLiteStore) -> None:
        mailbox_id = await _inbox(store, 20)
        view = SelectedMailbox(await SnapshotCache().current(store, mailbox_id), read_only=False)
        rng = random.Random(3)
        for round_ in range(8):
            await _churn(store, mailbox_id, rng)
            update = view.merge(await store.changes_since(mailbox_id, view.known_modseq))
            if round_ % 2 == 0:
                view.announce(update)
            if update.expunged:
                assert update.expunged == sorted(update.expunged, reverse=True)
            if round_ % 2:
                continue  # expunges pending: the view keeps their sequence numbers until announced
            fresh = await store.list_columns(mailbox_id)
            assert list(view.uids) == list(fresh.uids)
            assert [vars_of(view.entry(uid)) for uid in view.uids] == [list(row) for row in _rows(fresh)]

    with_store(body)


def test_structures_are_cached_by_uidvalidity_and_uid_and_message_ids_are_never_reused(with_store):
    async def body(store: SQLiteStore) -> None:
        mailbox_id = await _inbox(store, 1)
        cache, items = StructureCache(), [FetchAtt("ENVELOPE")]
        options = FetchOptions(uid=False, utf8=False, condstore=False)
        await store.deliver(message("first"), [DeliveryTarget(mailbox_id)])
        view = SelectedMailbox(await store.list_columns(mailbox_id), read_only=False)
        [line] = (await fetch_responses(store, view, [2], items, options, cache, set())).lines
        assert b'"first"' in line
        first_id = view.entry(2).message_id
        await store.expunge(mailbox_id, [2])
        await store.deliver(message("second"), [DeliveryTarget(mailbox_id)])
        view = SelectedMailbox(await store.list_columns(mailbox_id), read_only=False)
        assert view.entry(3).message_id != first_id  # the newest row was deleted: its id is not given again
        [line] = (await fetch_responses(store, view, [3], items, options, cache, set())).lines
        assert b'"second"' in line

    with_store(body)


def test_a_long_listing_lets_other_sessions_in(with_store):
    """FETCH 1:* (ENVELOPE) of a large mailbox, from the structure cache, does not hold the event loop
    for the whole listing: other sessions get a turn every YIELD_EVERY_LISTED messages."""
    async def body(store: SQLiteStore) -> None:
        count = 3 * fetch.YIELD_EVERY_LISTED
        mailbox_id = await _inbox(store, 1)
        await asyncio.gather(*(store.deliver(message(f"m{n}"), [DeliveryTarget(mailbox_id)]) for n in range(count - 1)))
        view = SelectedMailbox(await store.list_columns(mailbox_id), read_only=False)
        cache, items = StructureCache(), [FetchAtt("FLAGS"), FetchAtt("ENVELOPE")]
        options = FetchOptions(uid=False, utf8=False, condstore=False)
        await fetch_responses(store, view, list(view.uids), items, options, cache, set())  # fills the cache
        turns = 0

        async def other_session() -> None:
            nonlocal turns
            while True:
                turns += 1
                await asyncio.sleep(0)

        other = asyncio.create_task(other_session())
        await asyncio.sleep(0)
        before = turns
        fetched = await fetch_responses(store, view, list(view.uids), items, options, cache, set())
        other.cancel()
        assert len(fetched.lines) == count
        assert turns - before >= 3

    with_store(body)
