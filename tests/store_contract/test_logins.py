"""The store's part of logins on every backend: server secrets made once for every process and node,
compare-and-set credentials, failed logins with pending checks held to the IP's limit, and the networks
an account logged in from."""

from __future__ import annotations

import asyncio

from pillarbox.store.api import Backend
from tests.stores import open_another

NOW = 1_000_000.0


def test_a_server_secret_is_made_once_and_shared_by_every_process(with_store):
    async def body(store: Backend) -> None:
        other = await open_another(store)
        try:
            first = await asyncio.gather(store.server_secret("a"), other.server_secret("a"))
            assert first[0] == first[1] and len(first[0]) == 32
            assert await store.server_secret("b") != first[0]
        finally:
            await other.close()
        reopened = await open_another(store)
        try:
            assert await reopened.server_secret("a") == first[0]
        finally:
            await reopened.close()

    with_store(body)


def test_replace_credentials_only_over_the_hash_it_expects(with_store):
    async def body(store: Backend) -> None:
        await store.add_domain("example.com")
        await store.add_account("bob@example.com", "old-hash", "old-scram")
        assert not await store.replace_credentials("bob@example.com", "other-hash", "new-hash", "new-scram")
        assert await store.replace_credentials("Bob@Example.com", "old-hash", "new-hash", "new-scram")
        found = await store.get_credentials("bob@example.com")
        assert found is not None and (found.password_hash, found.scram_sha256) == ("new-hash", "new-scram")
        assert not await store.replace_credentials("nobody@example.com", "old-hash", "x", None)

    with_store(body)


def test_pending_checks_count_toward_the_ip_limit_until_settled(with_store):
    async def body(store: Backend) -> None:
        since = NOW - 900
        first, by_ip, by_account = await store.add_login_failure("192.0.2.1", "bob@example.com", NOW, since, 2, True)
        assert first is not None and (by_ip, by_account) == (0, 0)
        second = (await store.add_login_failure("192.0.2.1", None, NOW, since, 2, True))[0]
        assert second is not None
        assert (await store.add_login_failure("192.0.2.1", None, NOW, since, 2, True))[0] is None  # 2 running
        assert await store.login_failures("192.0.2.1", "bob@example.com", since) == (0, 0)  # pending: not yet
        await store.settle_login_failure(first, failed=True)
        await store.settle_login_failure(second, failed=False)  # the right password: forgotten
        assert await store.login_failures("192.0.2.1", "bob@example.com", since) == (1, 1)
        assert (await store.add_login_failure("192.0.2.1", None, NOW + 1, since, 2, False))[1:] == (1, 0)
        assert (await store.add_login_failure("192.0.2.1", None, NOW + 2, since, 2, True))[0] is None  # locked
        assert await store.login_failures("192.0.2.1", None, NOW + 1000) == (0, 0)  # aged out

    with_store(body)


def test_a_pending_check_older_than_a_minute_was_lost_with_its_process(with_store):
    async def body(store: Backend) -> None:
        assert (await store.add_login_failure("192.0.2.5", None, NOW, NOW - 900, 1, True))[0] is not None
        assert (await store.add_login_failure("192.0.2.5", None, NOW + 30, NOW - 900, 1, True))[0] is None
        assert (await store.add_login_failure("192.0.2.5", None, NOW + 61, NOW - 900, 1, True))[0] is not None

    with_store(body)


def test_parallel_adds_from_two_nodes_never_pass_the_limit_together(with_store):
    async def body(store: Backend) -> None:
        other = await open_another(store)
        try:
            adds = [s.add_login_failure("192.0.2.9", None, NOW, NOW - 900, 5, True)
                    for _ in range(10) for s in (store, other)]
            ids = [found[0] for found in await asyncio.gather(*adds)]
            assert sum(i is not None for i in ids) == 5
        finally:
            await other.close()

    with_store(body)


def test_login_networks_are_remembered_and_forgotten(with_store):
    async def body(store: Backend) -> None:
        assert not await store.login_network_seen("bob@example.com", "192.0.2.0/24", NOW - 100)
        await store.record_login_network("bob@example.com", "192.0.2.0/24", NOW, NOW - 1000)
        await store.record_login_network("bob@example.com", "192.0.2.0/24", NOW - 50, NOW - 1000)  # never back
        assert await store.login_network_seen("bob@example.com", "192.0.2.0/24", NOW - 10)
        assert not await store.login_network_seen("carol@example.com", "192.0.2.0/24", NOW - 10)
        await store.record_login_network("carol@example.com", "198.51.100.0/24", NOW + 5000, NOW + 10)
        assert not await store.login_network_seen("bob@example.com", "192.0.2.0/24", 0)  # forgotten

    with_store(body)
