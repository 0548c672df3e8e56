"""The outbound session pool: idle sessions are QUIT all at once, so one silent peer cannot hold up a stop."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from pillarbox.outbound.deliver import SessionPool


@dataclass
class SilentClient:
    """A peer that answers QUIT only when told to."""

    answer: asyncio.Event
    started: list[str] = field(default_factory=list)
    is_closing: bool = False

    async def quit(self) -> None:
        self.started.append("quit")
        await self.answer.wait()


@dataclass
class FakeSession:
    host: str
    client: SilentClient
    exhausted: bool = False


def test_idle_sessions_are_quit_together():
    async def scenario() -> None:
        answer = asyncio.Event()
        clients = [SilentClient(answer) for _ in range(3)]
        pool = SessionPool(clock=lambda: 0.0)
        for n, client in enumerate(clients):
            pool.give(FakeSession(f"mx{n}.test", client), 25)  # type: ignore[arg-type]
        closing = asyncio.create_task(pool.close_idle(everything=True))
        await asyncio.sleep(0.01)
        assert [c.started for c in clients] == [["quit"]] * 3  # all asked before any answered
        answer.set()
        await asyncio.wait_for(closing, 5)
        assert pool.take("mx0.test", 25) is None

    asyncio.run(scenario())
