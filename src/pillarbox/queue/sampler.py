"""The outbound queue's size every few minutes, kept for the dashboard's chart (``web/charts.py``).

The queue table says how big the queue is now; how it grew overnight (a destination refusing us, a
burst of bounces) only a history shows. The primary records one sample (recipients pending, held,
failed: ``store.queue_summary``) every ``INTERVAL`` seconds and the store keeps ``KEEP`` of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from pillarbox.background import LoopingTask
from pillarbox.obs import get_logger, log_event
from pillarbox.store.api import WebStore

INTERVAL = 300.0
KEEP = 8 * 24 * 3600
log = get_logger("queue")


class QueueSampler(LoopingTask):
    name = "queue-sampler"

    def __init__(self, store: WebStore, interval: float = INTERVAL,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.store = store
        self.interval = interval
        self.sleep = sleep

    async def sample(self) -> None:
        summary = await self.store.queue_summary()
        await self.store.record_queue_sample(summary.states, KEEP)

    async def _loop(self) -> None:
        while True:
            try:
                await self.sample()
            except Exception as exc:  # a full disk or a busy store: the next sample may work
                log_event(log, "warning", "queue sample not recorded", error=str(exc))
            await self.sleep(self.interval)
