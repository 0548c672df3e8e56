"""The change feed: wakes the sessions whose mailboxes changed, in this process or another.

Every change raises a mailbox's HIGHESTMODSEQ, and MODSEQs come from one global counter, so "what
changed since I last looked" is one indexed query: ``highestmodseq > last``. The feed runs that query
right after each local commit (the writer pokes it), when another process (a worker, the CLI) says
it committed (``wakeup.py``), and on a short timer as a safety net, then wakes the waiters of the
mailboxes it found. Waiters then read the change log themselves (principle 5: woken by
notifications, read from the store).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping

from pillarbox.store.sqlite.wakeup import CommitWakeup
from pillarbox.store.waiters import ChangeWaiters

POLL_INTERVAL = 0.25


class PollingChangeFeed(ChangeWaiters):
    def __init__(
        self, changed_since: Callable[[int], Awaitable[tuple[int, list[tuple[int, int]]]]],
        wakeup: CommitWakeup | None = None,
    ) -> None:
        super().__init__()
        self._changed_since = changed_since
        self._wakeup = wakeup
        self._last = -1
        self._poked: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    def poke(self) -> None:
        """Called from any thread after a commit."""
        if self._loop is not None and self._poked is not None:
            with contextlib.suppress(RuntimeError):  # loop closed
                self._loop.call_soon_threadsafe(self._poked.set)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def wait(self, known: Mapping[int, int], timeout: float | None = None) -> bool:
        if (self._task is None or self._task.done()) and known:
            # the feed starts now: from what this first waiter knows, not from the newest change, which
            # may be one it has not read (a session read its mailbox, another changed it, then it waits)
            self._last = min(known.values())
        return await super().wait(known, timeout)

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._loop = asyncio.get_running_loop()
            self._poked = asyncio.Event()
            if self._wakeup is not None:
                self._wakeup.listen(self._loop, self._poked.set)  # other processes' commits
            self._task = self._loop.create_task(self._run(), name="pillarbox-change-feed")

    async def _run(self) -> None:
        assert self._poked is not None
        if self._last < 0:
            self._last, _ = await self._changed_since(2**62)
        while True:
            self._last, changed = await self._changed_since(self._last)
            for mailbox_id, highest in changed:
                self.note(mailbox_id, highest)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poked.wait(), POLL_INTERVAL)
            self._poked.clear()
