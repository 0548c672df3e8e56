"""Reaching PostgreSQL: the URL, the connection pool, and what a lost server becomes.

The driver is asyncpg (docs/store.md says why). Every failure that means "the server cannot be used
right now" (refused or dropped connection, server shutting down or starting up, failover, a pool that
cannot hand out a connection in time) becomes ``StoreUnavailable``: nothing was committed, and the
protocols answer with their temporary-failure reply. The pool reconnects by itself: each acquire
opens a new connection when the old one died.

A write transaction that PostgreSQL aborts for a deadlock or a serialization failure did nothing and
is run again (a few times) before anyone hears of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import asyncpg

from pillarbox.errors import StorageFull, StoreUnavailable

T = TypeVar("T")
CONNECT_TIMEOUT = 5.0
ACQUIRE_TIMEOUT = 10.0
RETRIES = 5

_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,  # class 08: connection exceptions
    asyncpg.CannotConnectNowError,  # starting up, in recovery
    asyncpg.OperatorInterventionError,  # admin shutdown, crash shutdown
    asyncpg.InsufficientResourcesError,  # too many connections, disk full
)
_RETRY = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)


def redacted(url: str) -> str:
    """The URL without its password, for logs and error lines."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.password is None:
        return url
    netloc = parsed.netloc.replace(f":{parsed.password}@", ":***@", 1)
    return urllib.parse.urlunsplit(parsed._replace(netloc=netloc))


def describe(exc: BaseException) -> str:
    """One line saying why the server could not be used."""
    if isinstance(exc, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError):
        return f"login refused: {exc}"
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return f"no such database: {exc}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"cannot reach the server: {exc.strerror}"
    if isinstance(exc, OSError | TimeoutError):
        return f"cannot reach the server: {exc or 'timed out'}"
    return f"{type(exc).__name__}: {exc}"


async def connect(url: str) -> asyncpg.Connection:
    """One connection (for the change feed and advisory locks, which live as long as it does)."""
    try:
        return await asyncpg.connect(url, timeout=CONNECT_TIMEOUT)
    except (*_UNAVAILABLE, asyncpg.PostgresError) as exc:
        raise StoreUnavailable(f"PostgreSQL at {redacted(url)}: {describe(exc)}") from exc


async def create_pool(url: str, size: int) -> asyncpg.Pool:
    """A pool whose first connection is opened now, so a bad URL, a refused login or an unreachable
    server is reported at start (one line), not at the first mail."""
    # no floor of open connections (min_size 0): a pool that keeps one reconnects in the background
    # and logs every failed attempt while the server is away; ours reconnect when asked for work
    pool = asyncpg.create_pool(url, min_size=0, max_size=size, timeout=CONNECT_TIMEOUT,
                               max_inactive_connection_lifetime=60.0, reset=_nothing_to_reset,
                               init=_prepare_connection)
    try:
        await pool
        async with pool.acquire(timeout=CONNECT_TIMEOUT) as conn:
            await conn.fetchval("SELECT 1")
    except (*_UNAVAILABLE, asyncpg.PostgresError) as exc:
        await pool.close()
        raise StoreUnavailable(f"PostgreSQL at {redacted(url)}: {describe(exc)}") from exc
    return pool


async def _durable_commits(conn: asyncpg.Connection) -> None:
    """A COMMIT is durable when it returns, whatever the server's default: with ``synchronous_commit = off``
    PostgreSQL answers before the WAL is flushed and a crash loses the last commits, mail already
    acknowledged (principle 7). Only ``off`` is raised to ``on``: ``local``, ``remote_write`` and
    ``remote_apply`` flush locally already, and a stricter setting of the DBA's stays."""
    await conn.execute("SELECT set_config('synchronous_commit', 'on', false)"
                       " WHERE current_setting('synchronous_commit') = 'off'")


async def _guard_modseqs(conn: asyncpg.Connection) -> None:
    """Before a new connection hands out a MODSEQ: after a crash, past every one a lost flag change may
    have used (schema migration 8; every connection after a crash is a new one). A database the pool
    has not migrated yet has nothing to guard."""
    await conn.execute("DO $$ BEGIN IF to_regproc('pillarbox_modseq_guard') IS NOT NULL THEN"
                       " PERFORM pillarbox_modseq_guard(); END IF; END $$")


async def _prepare_connection(conn: asyncpg.Connection) -> None:
    """Each new pooled connection, before its first use (session settings last its life: no reset)."""
    await _durable_commits(conn)
    await _guard_modseqs(conn)


async def _nothing_to_reset(_conn: asyncpg.Connection) -> None:
    """Pooled connections never LISTEN, SET or take session locks (the feed and the maildrop locks have
    connections of their own), and asyncpg ends an open transaction itself: the default reset query
    would cost every transaction one more round trip for nothing."""


@contextlib.asynccontextmanager
async def translated() -> AsyncIterator[None]:
    """Turn "the server is gone" into StoreUnavailable; every other error passes unchanged."""
    try:
        yield
    except StoreUnavailable:
        raise
    except asyncpg.DiskFullError as exc:  # nothing was written; the same call succeeds once there is room
        raise StorageFull(f"the database server's disk is full: {exc}") from exc
    except _UNAVAILABLE as exc:
        raise StoreUnavailable(f"store unavailable: {describe(exc)}") from exc
    except asyncpg.InternalClientError as exc:  # the protocol lost its state: the server cut the session
        raise StoreUnavailable(f"store unavailable: {describe(exc)}") from exc
    except asyncpg.InterfaceError as exc:
        if "closed" not in str(exc):  # a connection or pool closed under us; others are bugs, not outages
            raise
        raise StoreUnavailable(f"store unavailable: {describe(exc)}") from exc


class Database:
    """The pool and the two ways to use it: a read (one snapshot) and a write transaction."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @contextlib.asynccontextmanager
    async def connection(self, timeout: float = ACQUIRE_TIMEOUT) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection; one whose protocol lost track (asyncpg's InternalClientError, seen when the
        server ends the session mid-operation, e.g. at shutdown) is closed, not handed to the next caller."""
        async with translated(), self.pool.acquire(timeout=timeout) as conn:
            try:
                yield conn
            except asyncpg.InternalClientError:
                conn.terminate()
                raise

    async def read(self, fn: Callable[[asyncpg.Connection], Awaitable[T]], snapshot: bool = False) -> T:
        """``fn`` on a pooled connection; ``snapshot``: inside one REPEATABLE READ transaction, for a
        read of several statements that must agree with each other."""
        async with self.connection() as conn:
            if not snapshot:
                return await fn(conn)
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                return await fn(conn)

    async def write(self, fn: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """``fn`` in one transaction, durable when this returns (COMMIT done); run again on a
        deadlock or serialization failure, when PostgreSQL rolled it back whole."""
        return await self._retried(fn, transaction=True)

    async def statement(self, fn: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """``fn`` sending one statement, outside an explicit transaction: the statement is its own
        transaction, committed when its answer arrives (one round trip instead of BEGIN, it, COMMIT)."""
        return await self._retried(fn, transaction=False)

    async def _retried(self, fn: Callable[[asyncpg.Connection], Awaitable[T]], transaction: bool) -> T:
        for attempt in range(RETRIES):
            try:
                async with self.connection() as conn:
                    if not transaction:
                        return await fn(conn)
                    async with conn.transaction():
                        return await fn(conn)
            except _RETRY:
                if attempt == RETRIES - 1:
                    raise
                await asyncio.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    async def close(self) -> None:
        with contextlib.suppress(*_UNAVAILABLE):
            await asyncio.wait_for(self.pool.close(), 10)
