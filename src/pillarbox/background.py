"""A long-running job of the server process: one asyncio task from ``start`` until ``stop``.

The outbound queue has its own lifecycle; the search indexer, the daily reports and a worker's
metrics export are loops, and share this one.
"""

from __future__ import annotations

import asyncio
import contextlib


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
