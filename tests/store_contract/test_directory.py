"""Domains, accounts and aliases in the store, and recipient resolution on top of them."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from pillarbox.address import AddressError
from pillarbox.auth.directory import VERSION_RECHECK, Directory
from pillarbox.errors import AlreadyExists, NotFound, StoreError
from pillarbox.store.api import Store
from tests import stores


def test_domains_are_case_insensitive_and_unique(with_store):
    async def body(store: Store) -> None:
        await store.add_domain("Example.COM")
        assert [d.name for d in await store.list_domains()] == ["example.com"]
        assert await store.has_domain("EXAMPLE.com")
        with pytest.raises(AlreadyExists):
            await store.add_domain("example.com")
        with pytest.raises(AddressError):
            await store.add_domain("bad..domain")
        await store.delete_domain("example.com")
        assert await store.list_domains() == []
        with pytest.raises(NotFound):
            await store.delete_domain("example.com")

    with_store(body)


def test_new_account_gets_special_use_folders(with_store):
    async def body(store: Store) -> None:
        await store.add_domain("example.com")
        account = await store.add_account("Bob@Example.com", "hash", None)
        assert account.address == "bob@example.com"
        folders = {m.name: m.special_use for m in await store.list_mailboxes(account.id)}
        assert folders == {"INBOX": None, "Drafts": "\\Drafts", "Sent": "\\Sent", "Trash": "\\Trash",
                           "Junk": "\\Junk", "Archive": "\\Archive"}
        validities = {m.uidvalidity for m in await store.list_mailboxes(account.id)}
        assert len(validities) == 6
        with pytest.raises(AlreadyExists):
            await store.add_account("bob@EXAMPLE.com", "hash", None)
        with pytest.raises(NotFound):
            await store.add_account("carol@unknown.test", "hash", None)

    with_store(body)


def test_domain_with_users_cannot_be_deleted(with_store):
    async def body(store: Store) -> None:
        await store.add_domain("example.com")
        await store.add_account("bob@example.com", "hash", None)
        with pytest.raises(StoreError, match="still has 1 user"):
            await store.delete_domain("example.com")
        await store.delete_account("bob@example.com")
        await store.delete_domain("example.com")

    with_store(body)


def test_alias_resolution_subaddress_catch_all_and_postmaster(with_store):
    async def body(store: Store) -> None:
        await store.add_domain("example.com")
        bob = await store.add_account("bob@example.com", "hash", None)
        carol = await store.add_account("carol@example.com", "hash", None)
        await store.add_alias("team@example.com", ["bob@example.com", "carol@example.com", "x@remote.test"])
        await store.add_alias("loop1@example.com", ["loop2@example.com"])
        await store.add_alias("loop2@example.com", ["loop1@example.com", "bob@example.com"])
        directory = Directory(store, clock=itertools.count().__next__)  # a second between lookups

        team = await directory.resolve("Team@Example.com")
        assert [a.address for a in team.accounts] == [bob.address, carol.address]
        assert team.remote == ["x@remote.test"]
        assert [a.address for a in (await directory.resolve("bob+news@example.com")).accounts] == [bob.address]
        assert not await directory.resolve("nobody@example.com")
        assert not await directory.resolve("postmaster@example.com")  # no hidden fallback: an alias says who
        assert [a.id for a in (await directory.resolve("loop1@example.com")).accounts] == [bob.id]

        await store.add_alias("@example.com", ["carol@example.com"])
        assert [a.id for a in (await directory.resolve("nobody@example.com")).accounts] == [carol.id]
        assert await directory.may_use(bob, "bob+tag@example.com")
        assert await directory.may_use(bob, "team@example.com")
        assert not await directory.may_use(bob, "carol@example.com")
        assert not await directory.may_use(carol, "nobody@example.com")  # catch-all grants no sending right

    with_store(body)


def test_sender_grants_extend_what_a_user_may_use(with_store):
    async def body(store: Store) -> None:
        await store.add_domain("example.com")
        bob = await store.add_account("bob@example.com", "hash", None)
        await store.add_account("carol@example.com", "hash", None)
        directory = Directory(store, clock=itertools.count().__next__)
        assert not await directory.may_use(bob, "carol@example.com")
        version = store.directory_version()
        await store.add_sender_grant("Bob@example.com", "Carol@Example.com")
        await store.add_sender_grant("bob@example.com", "@Partner.Example")
        assert store.directory_version() > version
        assert await directory.may_use(bob, "carol@example.com") and await directory.may_use(bob, "carol+x@example.com")
        assert await directory.may_use(bob, "anyone@partner.example")
        assert not await directory.may_use(bob, "anyone@sub.partner.example")
        assert await store.sender_grants("bob@example.com") == ("@partner.example", "carol@example.com")
        with pytest.raises(AlreadyExists):
            await store.add_sender_grant("bob@example.com", "carol@example.com")
        with pytest.raises(NotFound):
            await store.add_sender_grant("nobody@example.com", "carol@example.com")
        await store.delete_sender_grant("bob@example.com", "carol@example.com")
        assert not await directory.may_use(bob, "carol@example.com")
        with pytest.raises(NotFound):
            await store.delete_sender_grant("bob@example.com", "carol@example.com")
        await store.delete_account("bob@example.com")  # its grants go with it
        assert await store.list_sender_grants() == []

    with_store(body)


def test_alias_and_user_names_do_not_collide(with_store):
    async def body(store: Store) -> None:
        await store.add_domain("example.com")
        await store.add_account("bob@example.com", "hash", None)
        with pytest.raises(AlreadyExists):
            await store.add_alias("bob@example.com", ["x@remote.test"])
        await store.add_alias("info@example.com", ["bob@example.com"])
        with pytest.raises(AlreadyExists):
            await store.add_account("info@example.com", "hash", None)
        with pytest.raises(NotFound):
            await store.add_alias("info@other.test", ["bob@example.com"])
        await store.delete_alias("info@example.com")
        assert await store.list_aliases() == []

    with_store(body)


def test_resolver_memory_follows_changes_made_by_another_process(with_store, tmp_path):
    """Answers are remembered, but a change by any writer (here a second store on the same files, as
    the CLI is) is seen by the first lookup VERSION_RECHECK seconds later: the directory version
    moves with every change."""
    now = [0.0]

    async def later(store: Store, before: int) -> None:
        """The window passes, once the change is heard (another node's NOTIFY arrives a moment after)."""
        for _ in range(500):
            if store.directory_version() != before:
                break
            await asyncio.sleep(0.01)
        now[0] += VERSION_RECHECK + 0.001

    async def body(store: Store) -> None:
        await store.add_domain("example.com")
        directory = Directory(store, clock=lambda: now[0])
        assert not await directory.resolve("dave@example.com")
        other = await stores.open_another(store)
        try:
            version = store.directory_version()
            dave = await other.add_account("dave@example.com", "hash", None)
            assert not await directory.resolve("dave@example.com")  # within the window: remembered
            await later(store, version)
            assert [a.id for a in (await directory.resolve("dave@example.com")).accounts] == [dave.id]
            version = store.directory_version()
            await other.add_alias("info@example.com", ["dave@example.com"])
            await later(store, version)
            assert [a.id for a in (await directory.resolve("info@example.com")).accounts] == [dave.id]
            version = store.directory_version()
            await other.delete_alias("info@example.com")
            await other.delete_account("dave@example.com")
            await later(store, version)
            assert not await directory.resolve("dave@example.com")
            assert not await directory.resolve("info@example.com")
            version = store.directory_version()
            await other.delete_domain("example.com")
            await later(store, version)
            assert not await directory.is_local_domain("example.com")
        finally:
            await other.close()

    with_store(body)


def test_who_the_bare_postmaster_is(with_store):
    """RCPT TO:<Postmaster> (RFC 5321 4.1.1.3): the configured address, else postmaster@ the served
    domain that is the host name or its closest parent, else of the oldest domain, else nobody."""
    async def body(store: Store) -> None:
        assert await Directory(store, hostname="mx.example.com").host_postmaster() is None
        await store.add_domain("zzz.example")
        assert await Directory(store, hostname="mx.example.com").host_postmaster() == "postmaster@zzz.example"
        await store.add_domain("example.com")
        assert await Directory(store, hostname="mx.example.com").host_postmaster() == "postmaster@example.com"
        await store.add_domain("mx.example.com")
        assert await Directory(store, hostname="mx.example.com").host_postmaster() == "postmaster@mx.example.com"
        configured = Directory(store, hostname="mx.example.com", postmaster="ops@elsewhere.example")
        assert await configured.host_postmaster() == "ops@elsewhere.example"

    with_store(body)
