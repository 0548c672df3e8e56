"""Blob files no row names (a crash between writing the file and the commit): found, reported by
``pillarbox store check`` and removed by ``--repair``, but never one a delivery may still commit."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from pillarbox.store.blobs import blob_name
from pillarbox.store.records import DeliveryTarget
from pillarbox.store.sqlite.orphans import GRACE_SECONDS
from pillarbox.store.sqlite.store import SQLiteStore
from tests.store.conftest import message
from tests.store_contract.test_messages import LARGE_BODY, _account


def _orphan(store: SQLiteStore, data: bytes, age: float) -> Path:
    path = store.blobs.write(blob_name(data), data)
    os.utime(path, (time.time() - age, time.time() - age))
    return path


def test_only_old_unnamed_files_are_orphans(tmp_path: Path) -> None:
    async def body() -> None:
        store = SQLiteStore(tmp_path / "data")
        try:
            _, inbox = await _account(store)
            await store.deliver(message(body=LARGE_BODY), [DeliveryTarget(inbox.id)])  # a named blob file
            [named] = [p for p in store.blobs.root.rglob("*") if p.is_file()]
            os.utime(named, (0, 0))
            crashed = _orphan(store, b"left by a crash", GRACE_SECONDS + 10)
            fresh = _orphan(store, b"a delivery about to commit", 5)
            assert await store.orphan_blobs() == [crashed]
            assert await store.remove_orphan_blobs() == 1
            assert not crashed.exists() and fresh.exists() and named.exists()
            assert await store.find_problems() == []
        finally:
            await store.close()

    asyncio.run(body())
