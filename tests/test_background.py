"""``LeaderOnly``: a singleton job runs while this node leads it, and stops when the lead is lost or
cannot be confirmed (the store unreachable). Driven step by step through an injected sleep."""

from __future__ import annotations

import asyncio

from pillarbox.background import LeaderOnly
from pillarbox.errors import StoreUnavailable


class Job:
    def __init__(self) -> None:
        self.events: list[str] = []

    async def start(self) -> None:
        self.events.append("start")

    async def stop(self, grace: float = 10.0) -> None:
        self.events.append("stop")


def test_the_job_runs_only_while_this_node_leads():
    answers: list[bool | Exception] = [False, True, True, StoreUnavailable("down"), True, False, True]
    job = Job()
    asked: list[str] = []
    checks = asyncio.Queue[None]()

    async def hold(name: str) -> bool:
        asked.append(name)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def sleep(seconds: float) -> None:
        checks.put_nowait(None)
        await asyncio.Event().wait() if not answers else None

    async def main() -> list[str]:
        leader = LeaderOnly(job, "acme", hold, sleep=sleep)
        await leader.start()
        for _ in range(7):
            await checks.get()
        await leader.stop()
        return job.events

    # not leading, leading (start), still, unknown (stop), leading (start), lost (stop), leading (start), stop
    assert asyncio.run(main()) == ["start", "stop", "start", "stop", "start", "stop"]
    assert set(asked) == {"acme"}
