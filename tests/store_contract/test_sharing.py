"""The extensions' store methods on every backend: METADATA (RFC 5464), ACLs and shared mailboxes
(RFC 4314), URLAUTH keys (RFC 4467), the TLS each destination was seen with, subscriptions to shared
mailboxes, INTERNALDATE zones and the base subject kept at delivery (RFC 5256)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pillarbox.errors import LimitReached, NotFound
from pillarbox.store.records import DeliveryTarget
from tests.store.conftest import message


async def _account(store, address: str = "bob@example.com"):  # type: ignore[no-untyped-def]
    domain = address.rpartition("@")[2]
    if not await store.has_domain(domain):
        await store.add_domain(domain)
    account = await store.add_account(address, "hash", None)
    return account, await store.get_mailbox(account.id, "INBOX")


def test_metadata_private_and_shared_all_or_nothing(with_store):
    async def body(store) -> None:  # type: ignore[no-untyped-def]
        bob, inbox = await _account(store)
        alice, _ = await _account(store, "alice@example.com")
        await store.set_metadata(bob.id, inbox.id, [("/private/Comment", b"mine"), ("/shared/comment", b"ours")], 2)
        await store.set_metadata(bob.id, None, [("/shared/admin", b"mailto:a@example.com")], 2)
        assert await store.list_metadata(bob.id, inbox.id) == {"/private/comment": b"mine", "/shared/comment": b"ours"}
        assert await store.list_metadata(alice.id, inbox.id) == {"/shared/comment": b"ours"}  # not bob's private
        assert await store.list_metadata(bob.id, None) == {"/shared/admin": b"mailto:a@example.com"}
        with pytest.raises(LimitReached):  # the third /shared entry: nothing of the command is kept
            await store.set_metadata(bob.id, inbox.id, [("/shared/comment", None), ("/shared/a", b"1"),
                                                        ("/shared/b", b"2"), ("/shared/c", b"3")], 2)
        assert await store.list_metadata(alice.id, inbox.id) == {"/shared/comment": b"ours"}
        await store.set_metadata(bob.id, inbox.id, [("/shared/comment", None)], 2)
        assert await store.account_metadata(bob.id) == {
            inbox.id: {"/private/comment": b"mine"}, 0: {"/shared/admin": b"mailto:a@example.com"}}
        await store.delete_account("bob@example.com")  # its private entries and mailboxes' entries go too
        assert await store.list_metadata(bob.id, inbox.id) == {}
        assert await store.list_metadata(alice.id, None) == {"/shared/admin": b"mailto:a@example.com"}

    with_store(body)


def test_acl_shares_a_mailbox_within_the_domain(with_store):
    async def body(store) -> None:  # type: ignore[no-untyped-def]
        bob, _ = await _account(store)
        await _account(store, "alice@example.com")
        await _account(store, "eve@other.test")
        work = await store.create_mailbox(bob.id, "Work")
        await store.set_acl(work.id, "alice@example.com", "lr")
        await store.set_acl(work.id, "anyone", "s")
        await store.set_acl(work.id, "alice@example.com", "lrw")  # replaces
        assert await store.get_acl(work.id) == {"alice@example.com": "lrw", "anyone": "s"}
        [shared] = await store.shared_with("Alice@Example.com")
        assert (shared.owner, shared.mailbox.id, shared.mailbox.name, shared.rights) == (
            "bob@example.com", work.id, "Work", "lrsw")
        assert not shared.mailbox.subscribed
        assert await store.shared_with("eve@other.test") == []  # "anyone" is the owner's domain only
        assert await store.shared_with("bob@example.com") == []  # never one's own
        await store.set_acl(work.id, "anyone", None)
        assert await store.get_acl(work.id) == {"alice@example.com": "lrw"}
        await store.delete_account("alice@example.com")  # a grantee's rights go with it
        assert await store.get_acl(work.id) == {}
        await store.set_acl(work.id, "anyone", "l")
        await store.delete_mailbox(bob.id, "Work")  # and the list with its mailbox
        assert await store.get_acl(work.id) == {}

    with_store(body)


def test_urlauth_key_made_once_reset_replaces_it(with_store):
    async def body(store) -> None:  # type: ignore[no-untyped-def]
        bob, inbox = await _account(store)
        first = await store.urlauth_key(inbox.id)
        assert len(first) == 32 and await store.urlauth_key(inbox.id) == first
        fresh = await store.urlauth_key(inbox.id, reset=True)
        assert fresh != first and await store.urlauth_key(inbox.id) == fresh
        work = await store.create_mailbox(bob.id, "Work")
        key = await store.urlauth_key(work.id)
        await store.delete_mailbox(bob.id, "Work")
        assert await store.urlauth_key(work.id) != key  # gone with its mailbox

    with_store(body)


def test_tls_seen_only_rises_and_can_be_forgotten(with_store):
    async def body(store) -> None:  # type: ignore[no-untyped-def]
        assert await store.tls_seen("mx.test") == 0
        await store.raise_tls_seen("MX.test", 2)
        await store.raise_tls_seen("mx.test", 1)  # a lower level never replaces a higher one
        await store.raise_tls_seen("a.test", 1)
        assert await store.tls_seen("mx.TEST") == 2
        assert [(domain, level) for domain, level, _ in await store.list_tls_seen()] == [("a.test", 1), ("mx.test", 2)]
        assert await store.forget_tls_seen("mx.test") and not await store.forget_tls_seen("mx.test")
        assert await store.tls_seen("mx.test") == 0

    with_store(body)


def test_subscribing_to_a_name_the_account_does_not_own(with_store):
    async def body(store) -> None:  # type: ignore[no-untyped-def]
        bob, _ = await _account(store)
        with pytest.raises(NotFound):
            await store.set_subscribed(bob.id, "Other Users/alice/Work", True)
        await store.set_subscribed(bob.id, "Other Users/alice/Work", True, must_exist=False)
        assert await store.subscribed_without_mailbox(bob.id) == ["Other Users/alice/Work"]
        await store.set_subscribed(bob.id, "Other Users/alice/Work", False, must_exist=False)
        await store.set_subscribed(bob.id, "Other Users/alice/Work", False, must_exist=False)  # not there: fine
        assert await store.subscribed_without_mailbox(bob.id) == []

    with_store(body)


def test_internal_date_keeps_its_zone_through_deliver_append_and_copy(with_store):
    async def body(store) -> None:  # type: ignore[no-untyped-def]
        bob, inbox = await _account(store)
        east = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone(timedelta(hours=5, minutes=30)))
        west = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone(timedelta(hours=-8)))
        await store.deliver(message("a"), [DeliveryTarget(inbox.id, internal_date=east)])
        await store.append_messages(inbox.id, [(message("b"), DeliveryTarget(inbox.id, internal_date=west)),
                                               (message("c"), DeliveryTarget(inbox.id))])
        work = await store.create_mailbox(bob.id, "Work")
        await store.copy(inbox.id, [1, 2, 3], work.id)
        for box in (inbox, work):
            dates = [e.internal_date for e in await store.list_messages(box.id)]
            assert [d.utcoffset() for d in dates[:2]] == [east.utcoffset(), west.utcoffset()]
            assert dates[:2] == [east, west] and dates[2].utcoffset() == timedelta(0)
            assert (await store.list_columns(box.id)).internal_zones == {1: 330, 2: -480}

    with_store(body)


def test_sort_and_thread_fields_carry_the_base_subject_kept_at_delivery(with_store):
    async def body(store) -> None:  # type: ignore[no-untyped-def]
        _, inbox = await _account(store)
        for subject in ("Re: [list] Apple (fwd)", "apple", "Fwd: pear"):
            await store.deliver(message(subject), [DeliveryTarget(inbox.id)])
        sort = await store.sort_fields(inbox.id)
        assert {uid: base for uid, (_, base) in sort.items()} == {1: "APPLE", 2: "APPLE", 3: "PEAR"}
        threads = await store.thread_fields(inbox.id)
        assert {uid: fields[1] for uid, fields in threads.items()} == {
            1: ("APPLE", True), 2: ("APPLE", False), 3: ("PEAR", True)}

    with_store(body)
