"""Shared test set-up: cheap password hashes (the real cost is for attackers, not for tests), an
asyncio runner with a deadline, and a fresh store per test."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from pillarbox.store.sqlite.store import SQLiteStore

os.environ.setdefault("PILLARBOX_CHEAP_HASHES", "1")

StoreTest = Callable[[SQLiteStore], Awaitable[None]]


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """PILLARBOX_TEST_LOOP=uvloop runs the in-process servers of the tests on uvloop too (what `serve` runs on)."""
    if os.environ.get("PILLARBOX_TEST_LOOP") == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        return uvloop.new_event_loop
    return None


@pytest.fixture
def run() -> Callable[[Coroutine[Any, Any, Any]], Any]:
    """Run a coroutine to completion with a hard deadline, so a hung test fails instead of hanging."""

    def runner(coro: Coroutine[Any, Any, Any], timeout: float = 15.0) -> Any:
        with asyncio.Runner(loop_factory=_loop_factory()) as loop_runner:
            return loop_runner.run(asyncio.wait_for(coro, timeout))

    return runner


def run_against(open_store: Callable[[], SQLiteStore], body: StoreTest) -> None:
    """Run an async test body against the store ``open_store`` makes, in its own event loop, closing it after."""

    async def main() -> None:
        store = open_store()
        try:
            await body(store)
        finally:
            await store.close()

    asyncio.run(main())


@pytest.fixture
def with_store(tmp_path: Path) -> Callable[[StoreTest], None]:
    """Run an async test body against a fresh store in its own event loop, closing it after."""
    return lambda body: run_against(lambda: SQLiteStore.open(tmp_path / "data"), body)
