"""The change feed across nodes: LISTEN/NOTIFY on one connection of its own, with a safety net.

Every change to a mailbox raises its HIGHESTMODSEQ, and a trigger sends ``'<mailbox id>:<modseq>'`` on
channel ``pillarbox_changes``; PostgreSQL delivers it at COMMIT to every listening node, so IDLE and
the other waiters on any node wake within a round trip of the commit. Directory changes come on
``pillarbox_directory`` and move ``directory_version`` (the resolvers' caches drop their answers).

A notification can be lost with the connection. So the feed also reads the HIGHESTMODSEQ of every
mailbox somebody waits for, after each reconnect and every ``POLL_INTERVAL`` seconds, and while it is
not listening the directory version moves at every look (no cached answer outlives what it cannot
hear). The listener reconnects by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable

import asyncpg

from pillarbox.errors import StoreUnavailable
from pillarbox.obs import get_logger, log_event
from pillarbox.store.postgres.connection import connect
from pillarbox.store.waiters import ChangeWaiters

POLL_INTERVAL = 1.0
RECONNECT_DELAY = 0.5
PING_TIMEOUT = 5.0
CHANGES, DIRECTORY = "pillarbox_changes", "pillarbox_directory"
log = get_logger("store")


async def ping(conn: asyncpg.Connection) -> None:
    await conn.fetchval("SELECT 1")


class NotifyChangeFeed(ChangeWaiters):
    def __init__(self, url: str, highest_of: Callable[[list[int]], Awaitable[dict[int, int]]]) -> None:
        super().__init__()
        self._url = url
        self._highest_of = highest_of
        self._conn: asyncpg.Connection | None = None
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._version = itertools.count(1)
        self._directory = 0

    @property
    def listening(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def start(self) -> None:
        """Listen now (a change committed after this returns is heard), then keep listening."""
        await self._listen()
        self._task = asyncio.get_running_loop().create_task(self._supervise(), name="pillarbox-change-feed")

    def directory_version(self) -> int:
        if not self.listening:
            self._directory = next(self._version)  # deaf: nothing may be cached
        return self._directory

    def directory_changed(self) -> None:
        self._directory = next(self._version)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._conn.close(), 5)

    async def _listen(self) -> None:
        conn = await connect(self._url)
        conn.add_termination_listener(lambda _conn: self._lost.set())
        await conn.add_listener(CHANGES, self._on_change)
        await conn.add_listener(DIRECTORY, lambda *_: self.directory_changed())
        self._conn = conn
        self._lost.clear()
        self.directory_changed()  # what changed while nobody listened is unknown

    def _on_change(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        """``<mailbox>:<modseq>``, or several separated by spaces (a batch of deliveries sends one)."""
        for change in payload.split():
            mailbox_id, _, highest = change.partition(":")
            with contextlib.suppress(ValueError):
                self.note(int(mailbox_id), int(highest))

    async def _supervise(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), POLL_INTERVAL)
            if not self.listening or not await self._answers():
                await self._reconnect()
            await self._catch_up()

    async def _answers(self) -> bool:
        """A connection can die without a word (a network partition): one that does not answer a ping
        in time is dropped, so the feed reconnects instead of waiting deaf for TCP to notice."""
        assert self._conn is not None
        try:
            await asyncio.wait_for(ping(self._conn), PING_TIMEOUT)
        except Exception:
            self._conn.terminate()
            return False
        return True

    async def _reconnect(self) -> None:
        log_event(log, "warning", "change feed lost its connection; reconnecting")
        while True:
            try:
                await self._listen()
            except StoreUnavailable:
                await asyncio.sleep(RECONNECT_DELAY)
                continue
            log_event(log, "info", "change feed listening again")
            return

    async def _catch_up(self) -> None:
        waited = self.waited_for()
        if not waited:
            return
        try:
            highest = await self._highest_of(waited)
        except StoreUnavailable:
            return
        for mailbox_id, modseq in highest.items():
            self.note(mailbox_id, modseq)
