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

POLL_INTERVAL = 0.25


class PollingChangeFeed:
    def __init__(
        self, changed_since: Callable[[int], Awaitable[tuple[int, list[tuple[int, int]]]]],
        wakeup: CommitWakeup | None = None,
    ) -> None:
        self._changed_since = changed_since
        self._wakeup = wakeup
        self._waiters: dict[int, set[asyncio.Future[None]]] = {}
        self._highest: dict[int, int] = {}
        self._last = -1
        self._poked: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    async def wait(self, known: Mapping[int, int], timeout: float | None = None) -> bool:
        """Wait until a mailbox's HIGHESTMODSEQ passes the value the caller last read (or timeout).

        Passing what the caller knows closes the race between reading the mailbox and starting to
        wait: a change the feed saw in between resolves the wait at once.
        """
        self._ensure_running()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        ids = list(known)
        for mailbox_id in ids:
            self._waiters.setdefault(mailbox_id, set()).add(future)
            if self._highest.get(mailbox_id, 0) > known[mailbox_id]:
                future.set_result(None)
        try:
            await asyncio.wait_for(future, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            for mailbox_id in ids:
                waiting = self._waiters.get(mailbox_id)
                if waiting is not None:
                    waiting.discard(future)
                    if not waiting:
                        del self._waiters[mailbox_id]

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

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._loop = asyncio.get_running_loop()
            self._poked = asyncio.Event()
            if self._wakeup is not None:
                self._wakeup.listen(self._loop, self._poked.set)  # other processes' commits
            self._task = self._loop.create_task(self._run(), name="pillarbox-change-feed")

    async def _run(self) -> None:
        assert self._poked is not None
        self._last, _ = await self._changed_since(2**62)
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poked.wait(), POLL_INTERVAL)
            self._poked.clear()
            self._last, changed = await self._changed_since(self._last)
            for mailbox_id, highest in changed:
                self._highest[mailbox_id] = highest
                for future in self._waiters.get(mailbox_id, ()):
                    if not future.done():
                        future.set_result(None)
