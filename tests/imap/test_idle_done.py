"""DONE after IDLE: the tagged OK goes out in the turn of the event loop that read DONE (the task that
pushed updates is cancelled, not waited for: on a loop busy with other sessions every turn costs
milliseconds), and nothing follows it, also when a change came in just before."""

from __future__ import annotations

import asyncio

import pytest

from pillarbox.imap.session import IMAPSession
from pillarbox.store.records import DeliveryTarget
from pillarbox.store.sqlite.store import SQLiteStore
from tests.imap.test_thread_store import Memory, logged_in
from tests.store.conftest import message


@pytest.fixture
def backend() -> str:
    return "sqlite"  # it answers "what changed?" on the loop's own thread: the turns counted are the session's


async def _idling(store: SQLiteStore) -> tuple[IMAPSession, Memory, int]:
    session, memory, inbox_id = await logged_in(store)
    await store.deliver(message("first"), [DeliveryTarget(inbox_id)])
    await session.on_data(b"s ENABLE IMAP4rev2\r\ns SELECT INBOX\r\ni IDLE\r\n")
    while session.idle_task is None or not session.idle_task.parked:
        await asyncio.sleep(0)
    memory.out.clear()
    return session, memory, inbox_id


async def _turns_taken(step: asyncio.Future[None] | asyncio.Task[None]) -> int:
    """Turns the event loop gave other tasks while ``step`` ran."""
    turns = 0

    async def other_session() -> None:
        nonlocal turns
        while True:
            await asyncio.sleep(0)
            turns += 1

    other = asyncio.create_task(other_session())
    await asyncio.sleep(0)
    started = turns
    await step
    other.cancel()
    return turns - started


def test_done_is_answered_in_the_turn_that_read_it(with_store):
    async def body(store: SQLiteStore) -> None:
        session, memory, _ = await _idling(store)
        turn = session.idle_task
        assert turn is not None and turn.task is not None
        assert await _turns_taken(asyncio.ensure_future(session.on_data(b"DONE\r\n"))) == 0
        assert bytes(memory.out) == b"i OK IDLE terminated\r\n"
        await asyncio.gather(turn.task, return_exceptions=True)
        assert turn.task.cancelled()
        await session.on_data(b"n NOOP\r\n")
        assert bytes(memory.out) == b"i OK IDLE terminated\r\nn OK NOOP completed\r\n"

    with_store(body)


def test_a_change_just_before_done_is_told_once_before_the_ok(with_store):
    async def body(store: SQLiteStore) -> None:
        session, memory, inbox_id = await _idling(store)
        turn = session.idle_task
        assert turn is not None and turn.task is not None
        await store.deliver(message("second"), [DeliveryTarget(inbox_id)])
        await session.on_data(b"DONE\r\n")
        await asyncio.gather(turn.task, return_exceptions=True)
        for _ in range(20):  # whatever the feed still wakes, nothing may write after the OK
            await asyncio.sleep(0)
        assert bytes(memory.out).count(b"* 2 EXISTS\r\n") <= 1
        assert bytes(memory.out).endswith(b"* 2 EXISTS\r\ni OK IDLE terminated\r\n")

    with_store(body)
