"""Shared test set-up: cheap password hashes (the real cost is for attackers, not for tests), an
asyncio runner with a deadline, and a fresh store per test."""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

from pillarbox.store.sqlite.store import SQLiteStore
from tests import pg_cluster, stores

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


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[pg_cluster.Cluster]:
    """One throwaway PostgreSQL server per test process (``pg_cluster``), with a migrated template."""
    if pg_cluster.binaries() is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) are not installed: apt-get install postgresql")
    with pg_cluster.running_cluster() as cluster:
        stores.make_template(cluster.url())
        yield cluster


@pytest.fixture(scope="session", autouse=True)
def postgres_for_wire_tests(request: pytest.FixtureRequest) -> Iterator[None]:
    """With PILLARBOX_TEST_STORE=postgres, every data_dir of a test gets a database (``stores.url_for``)."""
    if stores.default_backend() != "postgres":
        yield
        return
    cluster: pg_cluster.Cluster = request.getfixturevalue("postgres_cluster")
    os.environ[stores.ADMIN_URL_VARIABLE] = cluster.url()
    yield
    os.environ.pop(stores.ADMIN_URL_VARIABLE, None)


def run_against(open_store: Callable[[], Any], body: StoreTest) -> None:
    """Run an async test body against the store ``open_store`` makes (or whose opening it returns, to
    await), in its own event loop, closing it after."""

    async def main() -> None:
        store = open_store()
        if inspect.isawaitable(store):
            store = await store
        try:
            await body(store)
        finally:
            await store.close()

    asyncio.run(main())


@pytest.fixture
def backend() -> str:
    """Which store the test runs on: PILLARBOX_TEST_STORE (sqlite by default); the contract suite
    overrides this to run on every backend."""
    return stores.default_backend()


@pytest.fixture
def store_url(request: pytest.FixtureRequest, backend: str) -> Iterator[str | None]:
    """A fresh PostgreSQL database's URL when the test runs on PostgreSQL, else None (SQLite)."""
    if backend != "postgres":
        yield None
        return
    cluster: pg_cluster.Cluster = request.getfixturevalue("postgres_cluster")
    url = stores.fresh_database(cluster.url())
    yield url
    stores.drop_database(cluster.url(), url)


@pytest.fixture
def with_store(tmp_path: Path, store_url: str | None) -> Callable[[StoreTest], None]:
    """Run an async test body against a fresh store in its own event loop, closing it after."""
    return lambda body: run_against(lambda: stores.open_store(tmp_path / "data", store_url), body)
