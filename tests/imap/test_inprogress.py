"""INPROGRESS (RFC 9585): a command still running is announced every interval, before its tagged
reply; a quick one and the commands that turn the conversation around never are."""

from __future__ import annotations

import asyncio

from pillarbox.imap import response as r
from pillarbox.imap.commands import TABLE
from pillarbox.imap.session import ANY, IMAPServices, IMAPSession, IMAPSettings
from tests.imap.test_thread_store import Memory

PROGRESS = b'* OK [INPROGRESS ("a1" NIL NIL)] Still working\r\n'


def _session(release: asyncio.Event) -> tuple[IMAPSession, Memory]:
    async def slow(session: IMAPSession, command):  # type: ignore[no-untyped-def]
        await release.wait()
        return r.ok(command.tag, "NOOP completed")

    settings = IMAPSettings(hostname="t", timeout=60, max_literal=1 << 20, max_command_errors=10,
                            progress_interval=0.001)
    memory = Memory()
    session = IMAPSession(memory, IMAPServices(settings, None, None, None), True)  # type: ignore[arg-type]
    session.table = {**TABLE, "NOOP": (ANY, slow)}
    return session, memory


async def _until(condition) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(30):  # only a bound on a broken test, not a speed assertion
        while not condition():
            await asyncio.sleep(0.001)


def test_a_long_command_tells_its_progress_until_it_ends() -> None:
    async def scenario() -> bytes:
        release = asyncio.Event()
        session, memory = _session(release)
        running = asyncio.create_task(session.on_data(b"a1 NOOP\r\n"))
        await _until(lambda: memory.out.count(PROGRESS) >= 2)
        release.set()
        await running
        told = len(memory.out)
        await asyncio.sleep(0.02)  # the timer is gone with the command
        assert len(memory.out) == told
        return bytes(memory.out)

    out = asyncio.run(scenario())
    assert out.endswith(PROGRESS + b"a1 OK NOOP completed\r\n")
    assert set(out.replace(PROGRESS, b"\n").split(b"\n")) == {b"", b"a1 OK NOOP completed\r"}


def test_a_quick_command_says_nothing_more() -> None:
    async def scenario() -> bytes:
        release = asyncio.Event()
        release.set()
        session, memory = _session(release)
        await session.on_data(b"a1 NOOP\r\n")
        await asyncio.sleep(0.02)
        return bytes(memory.out)

    assert asyncio.run(scenario()) == b"a1 OK NOOP completed\r\n"
