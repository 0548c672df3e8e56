"""Jobs run once a day shortly after midnight UTC (the DMARC and TLS-RPT reports for the day before).

One loop for all of them: sleep until the next midnight plus a delay, run the job for yesterday's
date, log and carry on if it fails (a bad day must not stop the next ones), stop on request. With
``claim`` (the store's ``claim_daily_job``) a day's job runs once however many nodes share the store:
the first to claim it runs it, the others skip it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from pillarbox.background import LoopingTask
from pillarbox.obs import get_logger, log_event

log = get_logger("daily")


def seconds_until_next_run(now: float, delay: float) -> float:
    """Seconds from ``now`` to the next UTC midnight plus ``delay``."""
    midnight = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    due = midnight.timestamp() + delay
    return due - now if due > now else due + 86400 - now


class DailyTask(LoopingTask):
    """Runs ``job("YYYY-MM-DD" of yesterday)`` every day ``delay`` seconds after midnight UTC."""

    def __init__(
        self, name: str, job: Callable[[str], Awaitable[object]], clock: Callable[[], float], delay: float,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        claim: Callable[[str, str], Awaitable[bool]] | None = None,
    ) -> None:
        self.name = name
        self.claim = claim
        self.job = job
        self.clock = clock
        self.delay = delay
        self.sleep = sleep

    async def _loop(self) -> None:
        while True:
            await self.sleep(seconds_until_next_run(self.clock(), self.delay))
            await self.run_once()

    async def run_once(self) -> None:
        day = (datetime.fromtimestamp(self.clock(), UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
        try:
            if self.claim is not None and not await self.claim(self.name, day):
                log_event(log, "info", "daily job done by another node", job=self.name, day=day)
                return
            await self.job(day)
        except Exception as exc:  # the loop must survive a bad day
            log_event(log, "error", "daily job failed", job=self.name, day=day, error=str(exc))
