"""Full-text indexing in the background: the index follows delivery instead of slowing it down.

Delivery stores a message and notes it as not yet indexed; this task, run by the primary process,
works that backlog off in batches (``Store.index_pending``) when deliveries pause:

- nothing waits: look again after ``poll`` seconds;
- messages are still arriving (the newest waiting one changed since the last look): wait ``quiet``
  seconds, so a burst of mail is accepted at full speed and indexed just after it;
- the oldest waiting message was stored ``max_delay`` seconds ago or more: index anyway, batch after
  batch, so under a steady flood the index stays about ``max_delay`` behind and the backlog bounded.

A SEARCH never waits for this task: ``Store.search_text`` indexes its mailbox's backlog itself first.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from pillarbox.background import LoopingTask
from pillarbox.errors import StorageFull
from pillarbox.obs import get_logger, log_event
from pillarbox.store.records import IndexBacklog

log = get_logger("indexer")
ROOM_POLL = 10.0  # seconds between tries while the disk reserve refuses new index data


class BackgroundIndexer(LoopingTask):
    name = "indexer"

    def __init__(
        self,
        backlog: Callable[[], Awaitable[IndexBacklog]],
        index_batch: Callable[[], Awaitable[int]],
        clock: Callable[[], float] = time.time,
        poll: float = 1.0,
        quiet: float = 0.5,
        max_delay: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._backlog = backlog
        self._index_batch = index_batch
        self._clock = clock
        self._poll = poll
        self._quiet = quiet
        self._max_delay = max_delay
        self._sleep = sleep
        self._newest_seen: int | None = None
        self._indexed_since_idle = 0
        self._waiting_for_room = False

    async def _loop(self) -> None:
        while True:
            try:
                pause = await self.step()
            except StorageFull:  # new index data must wait for room; SEARCH reads what waits meanwhile
                pause = self._quiet_for_room()
            except Exception as exc:  # a failing batch must not end indexing for good
                log_event(log, "error", "indexing failed", error=str(exc))
                pause = self._poll
            if pause:
                await self._sleep(pause)

    def _quiet_for_room(self) -> float:
        if not self._waiting_for_room:
            log_event(log, "warning", "full-text indexing paused: the disk reserve is reached")
        self._waiting_for_room = True
        return ROOM_POLL

    async def step(self) -> float:
        """Look at the backlog once and index one batch if it is time; returns the seconds to wait
        before the next step (0: go on at once)."""
        backlog = await self._backlog()
        if backlog.count == 0:
            if self._indexed_since_idle:
                log_event(log, "info", "full-text index caught up", indexed=self._indexed_since_idle)
                self._indexed_since_idle = 0
            self._newest_seen = None
            return self._poll
        arriving = backlog.newest_id != self._newest_seen
        self._newest_seen = backlog.newest_id
        overdue = backlog.oldest_stored is not None and self._clock() - backlog.oldest_stored >= self._max_delay
        if arriving and not overdue:
            return self._quiet
        indexed = await self._index_batch()
        self._waiting_for_room = False
        self._indexed_since_idle += indexed
        return 0.0 if indexed else self._poll
