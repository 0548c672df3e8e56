"""Messages in mailboxes: UIDs, flags, MODSEQs, the change log, copy/move, quota, persistence."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pillarbox.errors import AlreadyExists, QuotaExceeded, StoreError
from pillarbox.store.api import Store
from pillarbox.store.names import internal_date_columns, zoned
from pillarbox.store.records import Appended, DeliveryTarget, Refused
from tests import stores
from tests.store.conftest import message

LARGE_BODY = ("y" * 76 + "\r\n") * 2000  # 156 KB: above INLINE_BODY_LIMIT, so it lives in a blob file


def _assert_blob_files(store: Store, count: int) -> None:
    """On SQLite, large bodies live in blob files: ``count`` of them (PostgreSQL keeps none)."""
    assert stores.blob_files(store) in (count, None)


async def _account(store: Store, address: str = "bob@example.com"):
    if not await store.has_domain(address.split("@")[1]):
        await store.add_domain(address.split("@")[1])
    account = await store.add_account(address, "hash", None)
    inbox = await store.get_mailbox(account.id, "inbox")
    assert inbox is not None
    return account, inbox


@pytest.mark.parametrize(("text", "files"), [("Hi there.\r\n", 0), (LARGE_BODY, 1)], ids=["in-row", "in-file"])
def test_one_stored_copy_many_mailboxes(with_store, text: str, files: int):
    async def body(store: Store) -> None:
        _, bob_inbox = await _account(store, "bob@example.com")
        _, carol_inbox = await _account(store, "carol@example.com")
        raw = message(body=text)
        results = await store.deliver(raw, [DeliveryTarget(bob_inbox.id), DeliveryTarget(carol_inbox.id)])
        assert all(isinstance(r, Appended) and r.uid == 1 for r in results)
        bob_entries = await store.list_messages(bob_inbox.id)
        carol_entries = await store.list_messages(carol_inbox.id)
        assert bob_entries[0].message_id == carol_entries[0].message_id
        assert await store.read_message(bob_entries[0].message_id) == raw
        _assert_blob_files(store, files)  # small bodies live in their row, large ones in one file
        assert await store.find_problems() == []
        summary = (await store.get_summaries([bob_entries[0].message_id]))[bob_entries[0].message_id]
        assert summary.subject == "hello" and summary.size == len(raw)

    with_store(body)


def test_uids_grow_and_counts_follow(with_store):
    async def body(store: Store) -> None:
        _, inbox = await _account(store)
        for n in range(3):
            flags = frozenset({"\\Seen"}) if n == 0 else frozenset()
            await store.deliver(message(f"m{n}"), [DeliveryTarget(inbox.id, flags)])
        box = await store.get_mailbox_by_id(inbox.id)
        assert (box.messages, box.unseen, box.uidnext) == (3, 2, 4)
        assert box.highestmodseq > inbox.highestmodseq
        await store.expunge(inbox.id, [3])
        await store.deliver(message("m4"), [DeliveryTarget(inbox.id)])
        assert [e.uid for e in await store.list_messages(inbox.id)] == [1, 2, 4]  # 3 never reused

    with_store(body)


def test_flags_modes_modseq_and_unchangedsince(with_store):
    async def body(store: Store) -> None:
        _, inbox = await _account(store)
        for n in range(2):
            await store.deliver(message(f"m{n}"), [DeliveryTarget(inbox.id)])
        result = await store.store_flags(inbox.id, [1, 2], "add", ["\\Seen", "$Label1"])
        assert [c.flags for c in result.changed] == [frozenset({"\\Seen", "$Label1"})] * 2
        modseq = result.changed[0].modseq
        assert (await store.get_mailbox_by_id(inbox.id)).unseen == 0
        again = await store.store_flags(inbox.id, [1], "add", ["\\seen"])
        assert again.changed == ()  # no change, no new MODSEQ
        removed = await store.store_flags(inbox.id, [1], "remove", ["$label1"])
        assert removed.changed[0].flags == frozenset({"\\Seen"})
        refused = await store.store_flags(inbox.id, [1, 2], "replace", ["\\Flagged"], unchanged_since=modseq)
        assert refused.modified == (1,)
        assert [c.uid for c in refused.changed] == [2]
        box = await store.get_mailbox_by_id(inbox.id)
        assert box.unseen == 1 and box.highestmodseq == refused.changed[0].modseq

    with_store(body)


def test_change_log_reports_changes_and_expunges(with_store):
    async def body(store: Store) -> None:
        _, inbox = await _account(store)
        for n in range(4):
            await store.deliver(message(f"m{n}"), [DeliveryTarget(inbox.id)])
        since = (await store.get_mailbox_by_id(inbox.id)).highestmodseq
        await store.store_flags(inbox.id, [2], "add", ["\\Deleted"])
        assert (await store.get_mailbox_by_id(inbox.id)).deleted == 1
        assert await store.expunge(inbox.id, [2, 3, 99]) == [2, 3]
        await store.deliver(message("m5"), [DeliveryTarget(inbox.id)])
        changes = await store.changes_since(inbox.id, since)
        assert [e.uid for e in changes.changed] == [5]
        assert changes.expunged == (2, 3)
        assert changes.mailbox.messages == 3 and changes.mailbox.deleted == 0

    with_store(body)


def test_copy_and_move_keep_flags_and_share_bytes(with_store):
    async def body(store: Store) -> None:
        account, inbox = await _account(store)
        archive = await store.get_mailbox(account.id, "Archive")
        await store.deliver(message("a"), [DeliveryTarget(inbox.id, frozenset({"\\Flagged"}))])
        await store.deliver(message("b"), [DeliveryTarget(inbox.id)])
        assert await store.copy(inbox.id, [1], archive.id) == [(1, 1)]
        assert await store.move(inbox.id, [1, 2], archive.id) == [(1, 2), (2, 3)]
        entries = await store.list_messages(archive.id)
        assert [(e.uid, "\\Flagged" in e.flags) for e in entries] == [(1, True), (2, True), (3, False)]
        assert await store.list_messages(inbox.id) == []
        assert (await store.changes_since(inbox.id, 0)).expunged == (1, 2)

    with_store(body)


def test_quota_refuses_one_target_not_the_others(with_store):
    async def body(store: Store) -> None:
        _, bob_inbox = await _account(store, "bob@example.com")
        _, carol_inbox = await _account(store, "carol@example.com")
        await store.set_quota("carol@example.com", 100, None)
        raw = message(body="x" * 200)
        targets = [DeliveryTarget(bob_inbox.id), DeliveryTarget(carol_inbox.id)]
        bob_result, carol_result = await store.deliver(raw, targets)
        assert isinstance(bob_result, Appended)
        assert isinstance(carol_result, Refused) and isinstance(carol_result.error, QuotaExceeded)
        assert (await store.get_mailbox_by_id(carol_inbox.id)).messages == 0

    with_store(body)


def test_a_message_nobody_takes_leaves_nothing_behind(with_store):
    async def body(store: Store) -> None:
        _, inbox = await _account(store)
        await store.set_quota("bob@example.com", 10, None)
        [result] = await store.deliver(message(body=LARGE_BODY), [DeliveryTarget(inbox.id)])
        assert isinstance(result, Refused)
        _assert_blob_files(store, 0)

    with_store(body)


def test_folders_create_rename_with_children_and_delete(with_store):
    async def body(store: Store) -> None:
        account, _ = await _account(store)
        work = await store.create_mailbox(account.id, "Work")
        await store.create_mailbox(account.id, "Work/2026")
        with pytest.raises(AlreadyExists):
            await store.create_mailbox(account.id, "Work")
        await store.deliver(message(body=LARGE_BODY), [DeliveryTarget(work.id)])
        _assert_blob_files(store, 1)
        await store.rename_mailbox(account.id, "Work", "Jobs")
        names = {m.name for m in await store.list_mailboxes(account.id)}
        assert {"Jobs", "Jobs/2026"} <= names and "Work" not in names
        await store.delete_mailbox(account.id, "Jobs")
        _assert_blob_files(store, 0)
        with pytest.raises(StoreError):
            await store.delete_mailbox(account.id, "INBOX")
        recreated = await store.create_mailbox(account.id, "Jobs")
        assert recreated.uidvalidity != work.uidvalidity

    with_store(body)


def test_renaming_inbox_moves_its_messages(with_store):
    async def body(store: Store) -> None:
        account, inbox = await _account(store)
        await store.deliver(message(), [DeliveryTarget(inbox.id)])
        await store.rename_mailbox(account.id, "INBOX", "Old")
        old = await store.get_mailbox(account.id, "Old")
        assert old.messages == 1 and (await store.get_mailbox_by_id(inbox.id)).messages == 0

    with_store(body)


def test_state_survives_restart(tmp_path: Path, store_url: str | None):
    async def first() -> tuple[int, int]:
        store = await stores.open_store(tmp_path, store_url)
        _, inbox = await _account(store)
        await store.deliver(message(), [DeliveryTarget(inbox.id)])
        await store.expunge(inbox.id, [1])
        await store.close()
        return inbox.id, inbox.uidvalidity

    async def second(mailbox_id: int, uidvalidity: int) -> None:
        store = await stores.open_store(tmp_path, store_url)
        [result] = await store.deliver(message(), [DeliveryTarget(mailbox_id)])
        assert result.uid == 2 and result.uidvalidity == uidvalidity
        await store.close()

    asyncio.run(second(*asyncio.run(first())))


def test_change_feed_wakes_waiters_in_this_and_another_store(with_store):
    async def body(store: Store) -> None:
        other = await stores.open_another(store)  # another process on the data_dir, or another node
        try:
            _, inbox = await _account(store)
            known = {inbox.id: (await store.get_mailbox_by_id(inbox.id)).highestmodseq}
            assert not await store.changes.wait(known, timeout=0.3)
            waiter = asyncio.create_task(store.changes.wait(known, timeout=5))
            await asyncio.sleep(0.05)
            await other.deliver(message(), [DeliveryTarget(inbox.id)])
            assert await waiter
            # a change that happened before the wait started is not missed
            assert await store.changes.wait(known, timeout=5)
        finally:
            await other.close()

    with_store(body)


def test_the_first_wait_of_a_process_hears_a_change_made_before_its_feed_started(with_store):
    """An IMAP session read the mailbox, another session changed it, then the first one began the first
    IDLE of the process: the feed, started by that wait, must not take the change as already heard."""
    async def body(store: Store) -> None:
        _, inbox = await _account(store)
        known = {inbox.id: (await store.get_mailbox_by_id(inbox.id)).highestmodseq}
        other = await stores.open_another(store)
        try:
            await other.deliver(message(), [DeliveryTarget(inbox.id)])
        finally:
            await other.close()
        assert await store.changes.wait(known, timeout=5)

    with_store(body)


def test_local_copies_and_queue_entry_in_one_step(with_store):
    async def body(store: Store) -> None:
        from pillarbox.store.records import OutboundRecipient, OutboundRequest

        _, inbox = await _account(store)
        request = OutboundRequest("bob@example.com", (OutboundRecipient("x@remote.test", notify=("FAILURE",)),))
        local = b"Return-Path: <bob@example.com>\r\n" + message(body=LARGE_BODY)
        relayed = message(body=LARGE_BODY)
        outcome = await store.deliver_and_queue(local, [DeliveryTarget(inbox.id)], request, relayed)
        assert isinstance(outcome.results[0], Appended) and outcome.queue_id is not None
        assert outcome.queue_id == request.queue_id  # the id the SMTP reply named
        second = OutboundRequest("bob@example.com", request.recipients)
        only_queued = await store.deliver_and_queue(message("q", body=LARGE_BODY), [], second)
        assert only_queued.results == () and only_queued.queue_id == second.queue_id != outcome.queue_id
        assert await store.find_problems() == []
        await store.expunge(inbox.id, [1])
        assert await store.find_problems() == []
        _assert_blob_files(store, 2)  # queued copies stay

    with_store(body)


def test_concurrent_deliveries_get_uids_in_call_order(with_store):
    async def body(store: Store) -> None:
        _, inbox = await _account(store)
        sizes = [50_000 if n % 3 == 0 else 10 for n in range(30)]  # big ones parse slower
        results = await asyncio.gather(*(
            store.deliver(message(f"m{n}", body="x" * size), [DeliveryTarget(inbox.id)])
            for n, size in enumerate(sizes)))
        assert [r[0].uid for r in results] == list(range(1, 31))

    with_store(body)


def test_replace_is_one_change_and_quota_counts_the_net_growth(with_store):  # RFC 8508 3.4
    async def body(store: Store) -> None:
        _, inbox = await _account(store)
        old = message(body="x" * 300)
        [first] = await store.deliver(old, [DeliveryTarget(inbox.id)])
        assert isinstance(first, Appended)
        await store.set_quota("bob@example.com", len(old) + 50, None)
        bigger = message(body="y" * 330)  # both at once would not fit, one instead of the other does
        replaced = await store.replace_message(bigger, DeliveryTarget(inbox.id, frozenset({"\\Seen"})), (inbox.id, 1))
        assert replaced.uid == 2 and replaced.modseq > first.modseq
        changes = await store.changes_since(inbox.id, first.modseq)
        assert changes.expunged == (1,) and [e.uid for e in changes.changed] == [2]
        with pytest.raises(QuotaExceeded):
            await store.replace_message(message(body="z" * 500), DeliveryTarget(inbox.id), (inbox.id, 2))
        with pytest.raises(StoreError):  # NotFound: the message to replace is gone
            await store.replace_message(message(), DeliveryTarget(inbox.id), (inbox.id, 1))
        assert [e.uid for e in await store.list_messages(inbox.id)] == [2]  # the refusals changed nothing

    with_store(body)


@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1)),
       st.integers(-(23 * 60 + 59), 23 * 60 + 59))
def test_an_internal_date_comes_back_in_its_zone(moment: datetime, minutes: int) -> None:
    given_date = moment.replace(microsecond=0, tzinfo=timezone(timedelta(minutes=minutes)))
    seconds, zone = internal_date_columns(given_date, now=0)
    back = zoned(seconds, zone)
    assert back == given_date and back.utcoffset() == given_date.utcoffset()


def test_due_queue_entries_are_leased_highest_priority_first(with_store):  # RFC 6710
    from pillarbox.store.records import OutboundRecipient, OutboundRequest

    async def body(store: Store) -> None:
        await _account(store)
        ids = []
        for priority in (0, -5, 7, 0):
            request = OutboundRequest("bob@example.com", (OutboundRecipient("x@remote.test"),), priority=priority)
            await store.deliver_and_queue(b"", [], request, message())
            ids.append(request.queue_id)
        leased = await store.lease_queue("me", 60, 10)
        assert [entry.id for entry in leased] == [ids[2], ids[0], ids[3], ids[1]]
        assert [entry.priority for entry in leased] == [7, 0, 0, -5]

    with_store(body)
