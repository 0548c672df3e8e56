"""A long-running job of the server process: one asyncio task from ``start`` until ``stop``.

The outbound queue has its own lifecycle; the search indexer, the daily reports and a worker's
metrics export are loops, and share this one. ``LeaderOnly`` runs a job on one node of a cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Protocol

from pillarbox.errors import StoreError, StoreUnavailable
from pillarbox.obs import get_logger, log_event

LEAD_INTERVAL = 10.0
"""Seconds between two checks of a lead: how long a job may wait for another node to take over."""
log = get_logger("cluster")


class BackgroundTask(Protocol):
    async def start(self) -> None: ...
    async def stop(self, grace: float = 10.0) -> None: ...


class LoopingTask:
    """Runs ``_loop`` as one task; ``stop`` cancels it and waits up to ``grace`` seconds."""

    name = "background"
    _task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self, grace: float = 10.0) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
            await asyncio.wait_for(self._task, grace)
        self._task = None

    async def _loop(self) -> None:
        raise NotImplementedError


class LeaderOnly(LoopingTask):
    """Runs ``task`` only while this node leads ``job`` (``hold``: ``store.api.Leadership.hold``), so one node of
    those sharing a store runs it: asked again every ``interval`` seconds, the task starts when the
    lead is taken and stops when it is lost (or cannot be confirmed: the store is unreachable). A
    leader's death frees the lead, and another node takes over within ``interval``."""

    def __init__(self, task: BackgroundTask, job: str, hold: Callable[[str], Awaitable[bool]],
                 interval: float = LEAD_INTERVAL, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.task = task
        self.name = f"leader-{job}"
        self.job = job
        self.hold = hold
        self.interval = interval
        self.sleep = sleep
        self.running = False

    async def _loop(self) -> None:
        while True:
            leading = await self._leading()
            if leading != self.running:
                await (self.task.start() if leading else self.task.stop())
                self.running = leading
                log_event(log, "info", "leading" if leading else "no longer leading", job=self.job)
            await self.sleep(self.interval)

    async def _leading(self) -> bool:
        try:
            return await self.hold(self.job)
        except (StoreUnavailable, StoreError, OSError) as exc:  # unknown: another node may have taken over, so stop
            log_event(log, "warning", "leadership not confirmed", job=self.job, error=str(exc))
            return False

    async def stop(self, grace: float = 10.0) -> None:
        await super().stop(grace)
        if self.running:
            await self.task.stop(grace)
            self.running = False
