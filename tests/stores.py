"""Opening a store for a test on either backend: SQLite in a data_dir, or a fresh PostgreSQL database.

``PILLARBOX_TEST_STORE=postgres`` runs the tests that use the default fixtures (``with_store``,
``store_url``, the wire tests' servers) against PostgreSQL; ``tests/store_contract`` runs on both always.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import itertools
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from pillarbox.store.postgres.store import PostgresStore
from pillarbox.store.sqlite.store import SQLiteStore

BACKENDS = ("sqlite", "postgres")
T = TypeVar("T")
TEMPLATE = "pillarbox_template"
_databases = itertools.count()


def default_backend() -> str:
    backend = os.environ.get("PILLARBOX_TEST_STORE", "sqlite")
    if backend not in BACKENDS:
        raise ValueError(f"PILLARBOX_TEST_STORE={backend!r}: expected one of {', '.join(BACKENDS)}")
    return backend


async def open_store(data_dir: Path, url: str | None, **options: Any) -> Any:
    """The store a test asked for: PostgreSQL at ``url`` when given, else SQLite in ``data_dir``."""
    if url is not None:
        return await PostgresStore.open(url, **options)
    return SQLiteStore.open(data_dir, **options)


async def open_another(store: Any, **options: Any) -> Any:
    """A second store on the same data: another process on the data_dir (SQLite), another node (PostgreSQL)."""
    if isinstance(store, SQLiteStore):
        return SQLiteStore.open(store.data_dir, checkpoints=False, **options)
    return await PostgresStore.open(store.url, **options)


def blob_files(store: Any) -> int | None:
    """How many blob files a SQLite store keeps (None on PostgreSQL, which keeps every body in the database)."""
    if not isinstance(store, SQLiteStore):
        return None
    return sum(1 for p in (store.data_dir / "blobs").rglob("*") if p.is_file())


def make_template(admin_url: str) -> None:
    """A database with the whole schema, that each test's database is copied from (fast: no migrations)."""
    _admin(admin_url, f"CREATE DATABASE {TEMPLATE}")

    async def migrate() -> None:
        store = await PostgresStore.open(_sibling(admin_url, TEMPLATE))
        await store.close()

    asyncio.run(migrate())


def fresh_database(admin_url: str) -> str:
    """A new empty-but-migrated database; returns its URL."""
    name = f"test_{os.getpid()}_{next(_databases)}"
    _admin(admin_url, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE} STRATEGY FILE_COPY")
    return _sibling(admin_url, name)


def drop_database(admin_url: str, url: str) -> None:
    _admin(admin_url, f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")


def _sibling(url: str, database: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + database


def _admin(admin_url: str, statement: str, exists_ok: bool = False) -> None:
    """One statement on the server (CREATE/DROP DATABASE), from synchronous code or inside a running loop."""
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(statement)
        except asyncpg.DuplicateDatabaseError:
            if not exists_ok:
                raise
        finally:
            await conn.close()

    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, run()).result()


async def execute_sql(store: Any, sqlite: str, postgres: str) -> None:
    """Change a store behind its back (to test that a check finds the damage): ``sqlite`` on a SQLite
    store, ``postgres`` on a PostgreSQL one; statements separated by semicolons."""
    if isinstance(store, SQLiteStore):
        from pillarbox.store.sqlite.store import connect

        with connect(store.db_path) as conn:
            conn.executescript(sqlite)
        return
    async with store._db.pool.acquire() as conn:
        await conn.execute(postgres)


async def fetch_value(store: Any, sqlite: str, postgres: str) -> Any:
    """One value read behind the store's back (see ``execute_sql``)."""
    if isinstance(store, SQLiteStore):
        from pillarbox.store.sqlite.store import connect

        with connect(store.db_path) as conn:
            return conn.execute(sqlite).fetchone()[0]
    async with store._db.pool.acquire() as conn:
        return await conn.fetchval(postgres)


ADMIN_URL_VARIABLE = "PILLARBOX_TEST_PG_ADMIN"
"""Set by the session fixture when the tests run on PostgreSQL: the throwaway server's admin URL."""


def url_for(data_dir: Path) -> str | None:
    """With PILLARBOX_TEST_STORE=postgres, the database that stands for ``data_dir`` (one per data_dir,
    made from the template on first use); None on SQLite. Wire tests name it in ``[store] url``."""
    admin = os.environ.get(ADMIN_URL_VARIABLE)
    if default_backend() != "postgres" or not admin:
        return None
    name = "d_" + hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:24]

    if name not in _made:
        _admin(admin, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE} STRATEGY FILE_COPY", exists_ok=True)
        _made.add(name)
    return _sibling(admin, name)


_made: set[str] = set()


async def open_at(data_dir: Path, **options: Any) -> Any:
    """The store of a wire test's data_dir: SQLite there, or its PostgreSQL database (``url_for``)."""
    return await open_store(data_dir, url_for(data_dir), **options)


def store_section(data_dir: Path) -> str:
    """The ``[store]`` table of a test server's config ("" on SQLite)."""
    url = url_for(data_dir)
    return f'\n[store]\nurl = "{url}"\n' if url else ""


def run_at(data_dir: Path, body: Callable[[Any], Awaitable[T]]) -> T:
    """``body(store)`` on a data_dir's store (``open_at``), from synchronous test code."""

    async def main() -> T:
        store = await open_at(data_dir)
        try:
            return await body(store)
        finally:
            await store.close()

    with concurrent.futures.ThreadPoolExecutor(1) as thread:  # callable inside a running event loop too
        return thread.submit(asyncio.run, main()).result()
