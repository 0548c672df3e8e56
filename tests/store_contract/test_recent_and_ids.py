"""\\Recent claims (RFC 3501 2.3.2), subscriptions of new folders, message ids never reused: on every backend."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pillarbox.errors import NotFound
from pillarbox.store.api import Store
from pillarbox.store.records import DeliveryTarget
from tests import stores
from tests.store.conftest import message


async def _inbox(store: Store, address: str = "bob@example.com"):
    if not await store.has_domain(address.split("@")[1]):
        await store.add_domain(address.split("@")[1])
    account = await store.add_account(address, "hash", None)
    return account, await store.get_mailbox(account.id, "INBOX")


def test_the_first_claim_takes_the_messages_and_later_ones_get_nothing(with_store):
    async def body(store: Store) -> None:
        _, inbox = await _inbox(store)
        assert inbox.recent_uid == 0
        for n in range(3):
            await store.deliver(message(f"m{n}"), [DeliveryTarget(inbox.id)])
        assert await store.claim_recent(inbox.id, 3) == 0  # the caller owns UIDs 1..3
        assert await store.claim_recent(inbox.id, 3) == 3  # nothing left
        await store.deliver(message("m3"), [DeliveryTarget(inbox.id)])
        assert await store.claim_recent(inbox.id, 2) == 3  # a lower mark never goes back
        assert await store.claim_recent(inbox.id, 4) == 3  # the caller owns UID 4
        assert (await store.get_mailbox_by_id(inbox.id)).recent_uid == 4
        with pytest.raises(NotFound):
            await store.claim_recent(inbox.id + 1000, 1)

    with_store(body)


def test_claims_from_two_processes_never_overlap(tmp_path: Path, store_url: str | None):
    """Two stores on one data_dir stand for two server processes (``workers``) or two nodes."""

    async def main() -> None:
        first = await stores.open_store(tmp_path, store_url)
        second = await stores.open_another(first)
        try:
            _, inbox = await _inbox(first)
            owned: list[set[int]] = [set(), set()]
            for uid in range(1, 21):
                await first.deliver(message(f"m{uid}"), [DeliveryTarget(inbox.id)])
                marks = await asyncio.gather(first.claim_recent(inbox.id, uid), second.claim_recent(inbox.id, uid))
                for index, mark in enumerate(marks):
                    owned[index].update(range(mark + 1, uid + 1))
            assert owned[0].isdisjoint(owned[1]) and owned[0] | owned[1] == set(range(1, 21))
        finally:
            await first.close()
            await second.close()

    asyncio.run(main())


def test_create_does_not_subscribe_but_a_new_account_has_its_folders_subscribed(with_store):
    async def body(store: Store) -> None:
        account, inbox = await _inbox(store)
        assert inbox.subscribed
        assert all(folder.subscribed for folder in await store.list_mailboxes(account.id))
        created = await store.create_mailbox(account.id, "Projects")
        assert not created.subscribed
        await store.set_subscribed(account.id, "Projects", True)
        assert (await store.get_mailbox(account.id, "Projects")).subscribed

    with_store(body)


def test_an_expunged_message_id_is_never_given_to_another_message(with_store):
    """SQLite hands out max(rowid) + 1: without a counter the next message would get the id of the
    expunged newest one, and a session still showing that one would read the new message."""

    async def body(store: Store) -> None:
        _, bob = await _inbox(store)
        _, carol = await _inbox(store, "carol@example.com")
        await store.deliver(message("old"), [DeliveryTarget(bob.id)])
        await store.deliver(message("newest"), [DeliveryTarget(bob.id)])
        [stale] = await store.list_messages(bob.id, uid_min=2)
        await store.expunge(bob.id, [2])
        await store.deliver(message("carol's"), [DeliveryTarget(carol.id)])
        [fresh] = await store.list_messages(carol.id)
        assert fresh.message_id > stale.message_id
        with pytest.raises(NotFound):
            await store.read_message(stale.message_id)
        assert await store.get_summaries([stale.message_id]) == {}

    with_store(body)
