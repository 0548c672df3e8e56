"""The store's part of logins: server secrets made once for every process, and compare-and-set credentials."""

from __future__ import annotations

import asyncio

from pillarbox.store.sqlite.store import SQLiteStore


def test_a_server_secret_is_made_once_and_shared_by_every_process(with_store):
    async def body(store: SQLiteStore) -> None:
        other = SQLiteStore.open(store.data_dir, checkpoints=False)
        try:
            first = await asyncio.gather(store.server_secret("a"), other.server_secret("a"))
            assert first[0] == first[1] and len(first[0]) == 32
            assert await store.server_secret("a") == first[0]
            assert await store.server_secret("b") != first[0]
        finally:
            await other.close()
        reopened = SQLiteStore.open(store.data_dir, checkpoints=False)
        try:
            assert await reopened.server_secret("a") == first[0]
        finally:
            await reopened.close()

    with_store(body)


def test_replace_credentials_only_over_the_hash_it_expects(with_store):
    async def body(store: SQLiteStore) -> None:
        await store.add_domain("example.com")
        await store.add_account("bob@example.com", "old-hash", "old-scram")
        assert not await store.replace_credentials("bob@example.com", "other-hash", "new-hash", "new-scram")
        assert await store.replace_credentials("Bob@Example.com", "old-hash", "new-hash", "new-scram")
        found = await store.get_credentials("bob@example.com")
        assert found is not None and (found.password_hash, found.scram_sha256) == ("new-hash", "new-scram")

    with_store(body)
