"""The SieveStore contract: scripts, one active script per account, tracking keys.

Written against ``with_store`` only, so every backend that provides the fixture passes the same suite.
"""

from __future__ import annotations

import pytest

from pillarbox.errors import AlreadyExists, NotFound
from pillarbox.store.records import SieveScript


async def _account(store, address: str = "bob@example.com"):  # type: ignore[no-untyped-def]
    if not await store.has_domain(address.rpartition("@")[2]):
        await store.add_domain(address.rpartition("@")[2])
    return await store.add_account(address, "hash", None)


def test_scripts_put_list_activate_rename_delete(with_store):
    async def body(store) -> None:  # type: ignore[no-untyped-def]
        bob = await _account(store)
        assert await store.list_sieve_scripts(bob.id) == []
        await store.put_sieve_script(bob.id, "b", "keep;")
        await store.put_sieve_script(bob.id, "a", "discard;")
        await store.put_sieve_script(bob.id, "a", "stop;")  # replaces
        assert await store.list_sieve_scripts(bob.id) == [SieveScript("a", "stop;", False),
                                                          SieveScript("b", "keep;", False)]
        await store.activate_sieve_script(bob.id, "a")
        await store.activate_sieve_script(bob.id, "b")
        assert await store.active_sieve_script(bob.id) == SieveScript("b", "keep;", True)
        assert [s.active for s in await store.list_sieve_scripts(bob.id)] == [False, True]
        await store.rename_sieve_script(bob.id, "b", "c")
        assert await store.active_sieve_script(bob.id) == SieveScript("c", "keep;", True)
        with pytest.raises(AlreadyExists):
            await store.rename_sieve_script(bob.id, "a", "c")
        with pytest.raises(NotFound):
            await store.rename_sieve_script(bob.id, "zz", "y")
        with pytest.raises(NotFound):
            await store.activate_sieve_script(bob.id, "zz")
        await store.activate_sieve_script(bob.id, None)
        assert await store.active_sieve_script(bob.id) is None
        await store.delete_sieve_script(bob.id, "a")
        with pytest.raises(NotFound):
            await store.delete_sieve_script(bob.id, "a")
        assert await store.get_sieve_script(bob.id, "c") == SieveScript("c", "keep;", False)

    with_store(body)


def test_global_scripts_are_apart_from_accounts(with_store):
    async def body(store) -> None:  # type: ignore[no-untyped-def]
        bob = await _account(store)
        await store.put_sieve_script(None, "before", "keep;")
        assert await store.list_sieve_scripts(bob.id) == []
        assert await store.get_sieve_script(None, "before") == SieveScript("before", "keep;", False)

    with_store(body)


def test_scripts_and_tracking_go_with_the_account(with_store):
    async def body(store) -> None:  # type: ignore[no-untyped-def]
        bob = await _account(store)
        await store.put_sieve_script(bob.id, "a", "keep;")
        await store.sieve_remember(bob.id, "k", 200.0, 100.0)
        await store.delete_account("bob@example.com")
        again = await _account(store)
        assert await store.list_sieve_scripts(again.id) == []
        assert not await store.sieve_seen(again.id, "k", 100.0)

    with_store(body)


def test_tracking_expires(with_store):
    async def body(store) -> None:  # type: ignore[no-untyped-def]
        bob = await _account(store)
        alice = await _account(store, "alice@example.com")
        assert not await store.sieve_seen(bob.id, "k", 100.0)
        await store.sieve_remember(bob.id, "k", 200.0, 100.0)
        assert await store.sieve_seen(bob.id, "k", 199.0)
        assert not await store.sieve_seen(alice.id, "k", 150.0)
        assert not await store.sieve_seen(bob.id, "k", 200.0)
        await store.sieve_remember(bob.id, "k", 400.0, 300.0)  # refresh
        assert await store.sieve_seen(bob.id, "k", 350.0)

    with_store(body)

