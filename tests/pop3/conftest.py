from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from pillarbox.store.sqlite.store import SQLiteStore

StoreTest = Callable[[SQLiteStore], Awaitable[None]]


@pytest.fixture
def with_store(tmp_path: Path) -> Callable[[StoreTest], None]:
    """Run an async test body against a fresh store in its own event loop."""

    def run(body: StoreTest) -> None:
        async def main() -> None:
            store = SQLiteStore.open(tmp_path / "data")
            try:
                await body(store)
            finally:
                await store.close()

        asyncio.run(main())

    return run
