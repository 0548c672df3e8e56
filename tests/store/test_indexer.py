"""The background indexer: waits while mail arrives, catches up when it pauses or falls too far behind."""

from __future__ import annotations

import asyncio

from pillarbox.store.indexer import BackgroundIndexer
from pillarbox.store.records import IndexBacklog


class FakeStore:
    """A backlog of message ids; ``arrive`` stores new ones, ``index_pending`` takes up to 2."""

    def __init__(self) -> None:
        self.waiting: list[tuple[int, float]] = []
        self.next_id = 1
        self.batches: list[list[int]] = []
        self.fail = False

    def arrive(self, count: int, at: float) -> None:
        for _ in range(count):
            self.waiting.append((self.next_id, at))
            self.next_id += 1

    async def index_backlog(self) -> IndexBacklog:
        if not self.waiting:
            return IndexBacklog(0, None, None)
        return IndexBacklog(len(self.waiting), self.waiting[-1][0], int(self.waiting[0][1]))

    async def index_pending(self) -> int:
        if self.fail:
            raise RuntimeError("disk on fire")
        batch, self.waiting = self.waiting[:2], self.waiting[2:]
        self.batches.append([message_id for message_id, _ in batch])
        return len(batch)


def _indexer(store: FakeStore, now: list[float]) -> BackgroundIndexer:
    return BackgroundIndexer(store.index_backlog, store.index_pending, clock=lambda: now[0],
                             poll=1.0, quiet=0.5, max_delay=60.0)


def test_waits_while_mail_arrives_then_indexes_batch_after_batch():
    store, now = FakeStore(), [1000.0]
    indexer = _indexer(store, now)

    async def scenario() -> None:
        assert await indexer.step() == 1.0  # nothing to do: poll
        store.arrive(3, now[0])
        assert await indexer.step() == 0.5  # new mail since the last look: wait for a pause
        store.arrive(2, now[0])
        assert await indexer.step() == 0.5
        assert store.batches == []
        assert await indexer.step() == 0.0  # nothing new: index, and go on at once
        assert await indexer.step() == 0.0
        assert await indexer.step() == 0.0
        assert store.batches == [[1, 2], [3, 4], [5]]
        assert await indexer.step() == 1.0

    asyncio.run(scenario())


def test_indexes_under_a_steady_flood_once_the_oldest_is_overdue():
    store, now = FakeStore(), [1000.0]
    indexer = _indexer(store, now)

    async def scenario() -> None:
        store.arrive(1, now[0])
        for _ in range(10):  # mail keeps coming, the oldest is young: no indexing
            now[0] += 5
            store.arrive(1, now[0])
            assert await indexer.step() == 0.5
        assert store.batches == []
        now[0] += 20  # the oldest waited 70 s
        store.arrive(1, now[0])
        assert await indexer.step() == 0.0
        assert store.batches == [[1, 2]]

    asyncio.run(scenario())


def test_a_failing_batch_does_not_end_the_loop():
    store, now = FakeStore(), [1000.0]
    pauses: list[float] = []
    done = asyncio.Event()

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 2:
            store.fail = False
        if len(pauses) >= 4:
            done.set()
            await asyncio.Event().wait()

    async def scenario() -> None:
        indexer = BackgroundIndexer(store.index_backlog, store.index_pending, clock=lambda: now[0], sleep=sleep)
        store.arrive(1, now[0] - 100)
        store.fail = True
        await indexer.start()
        await asyncio.wait_for(done.wait(), 5)
        await indexer.stop()
        assert store.waiting == [] and store.batches == [[1]]

    asyncio.run(scenario())
