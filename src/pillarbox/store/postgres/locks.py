"""Locks across nodes: PostgreSQL advisory locks held on one connection of this node (``LockConnection``).

A session-level advisory lock lasts as long as the connection that took it, so a node that dies (or
loses its connection) lets go of its locks by itself: no stale lock, as with SQLite's flock. The
locks of a node live on one connection of their own (not a pooled one, which would hand them to other
work). Two kinds:

- POP3 maildrops (``AdvisoryMaildropLocks``): advisory locks are re-entrant on a connection, so this
  node's own sessions are kept apart by ``_held``. The last login of each account is a row (RFC 2449
  LOGIN-DELAY), written with the lock.
- Leaders of singleton jobs (``AdvisoryLeadership``): the node holding a job's lock runs it; when it
  dies, another node's next ``hold`` gets the lock.
- Delivery slots per destination domain (``AdvisoryDestinationSlots``): ``[queue] per_domain`` locks per
  domain, one held per delivery under way, so the limit holds for all nodes together.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import AsyncIterator, Callable

import asyncpg

from pillarbox.errors import StoreUnavailable
from pillarbox.obs import get_logger, log_event
from pillarbox.store.postgres.connection import connect, translated

POP3_LOCKS = 1  # the advisory lock class (first key) of POP3 maildrops; the second key is the account id
LEADERS = 2  # the advisory lock class of singleton jobs; the second key is made from the job's name
DESTINATIONS = 3  # the class of per-destination delivery slots; the second key from "<domain>/<slot>"
log = get_logger("store")


class LockConnection:
    """This node's connection for advisory locks, opened again when lost (its locks are gone then)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._conn: asyncpg.Connection | None = None
        self._mutex = asyncio.Lock()  # one statement at a time on the connection

    @contextlib.asynccontextmanager
    async def using(self) -> AsyncIterator[asyncpg.Connection]:
        """The connection, alone, with "the server is gone" as StoreUnavailable."""
        async with self._mutex, translated():
            if self._conn is None or self._conn.is_closed():
                if self._conn is not None:
                    log_event(log, "warning", "lock connection lost: its locks are gone")
                self._conn = await connect(self._url)
            yield self._conn

    async def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._conn.close(), 5)


class AdvisoryLeadership:
    """Which node runs each singleton job (``store.api.Leadership``)."""

    def __init__(self, connection: LockConnection) -> None:
        self._connection = connection
        self._holding: dict[str, asyncpg.Connection] = {}  # job -> the connection that holds its lock

    async def hold(self, job: str) -> bool:
        async with self._connection.using() as conn:
            if self._holding.get(job) is conn:
                await conn.fetchval("SELECT 1")  # still connected, so still the holder
                return True
            if await conn.fetchval("SELECT pg_try_advisory_lock($1, $2::int)", LEADERS, job_key(job)):
                self._holding[job] = conn
                return True
            return False


class AdvisoryDestinationSlots:
    """``store.api.DestinationSlots`` for every node of the database."""

    def __init__(self, connection: LockConnection) -> None:
        self._connection = connection
        self._held: dict[tuple[str, int], asyncpg.Connection] = {}  # (domain, slot) -> its holder

    async def take(self, domain: str, limit: int) -> int | None:
        async with self._connection.using() as conn:
            for slot in range(limit):
                if (domain, slot) in self._held:  # re-entrant on our connection: ask only for free ones
                    continue
                if await conn.fetchval("SELECT pg_try_advisory_lock($1, $2::int)", DESTINATIONS,
                                       job_key(f"{domain}/{slot}")):
                    self._held[domain, slot] = conn
                    return slot
        return None

    async def release(self, domain: str, slot: int) -> None:
        holder = self._held.pop((domain, slot), None)
        try:
            async with self._connection.using() as conn:
                if conn is holder:  # else the connection was lost, and the lock with it
                    await conn.fetchval("SELECT pg_advisory_unlock($1, $2::int)", DESTINATIONS,
                                        job_key(f"{domain}/{slot}"))
        except StoreUnavailable as exc:
            log_event(log, "warning", "delivery slot not released", domain=domain, error=str(exc))


def job_key(job: str) -> int:
    """A stable 32-bit key for a job's name (the same on every node and version)."""
    return int.from_bytes(hashlib.sha256(job.encode()).digest()[:4], "big", signed=True)


class AdvisoryMaildropLocks:
    def __init__(self, connection: LockConnection, clock: Callable[[], float] = time.time) -> None:
        self._connection = connection
        self._clock = clock
        self._held: set[int] = set()
        self._releases: set[asyncio.Task[None]] = set()

    async def acquire(self, account_id: int) -> bool:
        if account_id in self._held:
            return False
        self._held.add(account_id)
        try:
            async with self._connection.using() as conn:
                locked = await conn.fetchval("SELECT pg_try_advisory_lock($1, $2::int)", POP3_LOCKS, account_id)
                if locked:
                    await conn.execute(
                        "INSERT INTO pop3_logins (account_id, at) VALUES ($1, $2)"
                        " ON CONFLICT (account_id) DO UPDATE SET at = excluded.at", account_id, self._clock())
        except BaseException:
            self._held.discard(account_id)
            raise
        if not locked:
            self._held.discard(account_id)
        return bool(locked)

    def release(self, account_id: int) -> None:
        """Free for this node's sessions at once; the unlock follows on the connection. Advisory locks
        count per connection, so a session of this node locking again before it arrives is still right."""
        if account_id not in self._held:
            return
        self._held.discard(account_id)
        task = asyncio.get_running_loop().create_task(self._unlock(account_id))
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def _unlock(self, account_id: int) -> None:
        try:
            async with self._connection.using() as conn:
                await conn.fetchval("SELECT pg_advisory_unlock($1, $2::int)", POP3_LOCKS, account_id)
        except Exception as exc:  # a lost connection has let go of the lock already
            log_event(log, "warning", "maildrop unlock failed", account_id=account_id, error=str(exc))

    async def too_soon(self, account_id: int, login_delay: int) -> bool:
        """RFC 2449 6.5: fewer than ``login_delay`` seconds since the last successful login."""
        if login_delay <= 0:
            return False
        async with self._connection.using() as conn:
            last = await conn.fetchval("SELECT at FROM pop3_logins WHERE account_id = $1", account_id)
        return last is not None and self._clock() - last < login_delay

    async def close(self) -> None:
        """Wait for the unlocks under way (the connection is ``LockConnection``'s to close)."""
        if self._releases:
            await asyncio.gather(*self._releases, return_exceptions=True)
