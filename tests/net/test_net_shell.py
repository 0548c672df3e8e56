"""The generic shell: data goes to the session, a missed deadline ends in on_timeout, EOF in on_eof.

The deadline tests move an injected clock instead of waiting: bytes that arrive "every 5 seconds"
arrive at once in real time, with the clock moved 5 seconds between them."""

from __future__ import annotations

import asyncio

from pillarbox.net.listener import Connection, Listener
from pillarbox.net.shell import Deadlines, Phase, run_shell


class LineSession:
    """A line echo protocol in the shape the shell expects; records what happened."""

    def __init__(self, conn: Connection, idle_timeout: float | None = None) -> None:
        self.conn = conn
        self.closed = False
        self.buffer = b""
        self.events: list[str] = []
        if idle_timeout is not None:
            self.idle_timeout = idle_timeout

    async def on_data(self, data: bytes) -> None:
        self.buffer += data
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            self.events.append(f"line:{line.decode()}")
            if line == b"QUIT":
                await self.conn.write(b"BYE\n")
                self.closed = True
                return
            await self.conn.write(line.upper() + b"\n")

    async def on_timeout(self) -> None:
        self.events.append("timeout")
        await self.conn.write(b"BYE idle\n")

    async def on_eof(self) -> None:
        self.events.append("eof")


FIVE_SECONDS = Deadlines(5.0)


async def _serve(session_factory, deadlines: Deadlines = FIVE_SECONDS) -> tuple[Listener, list[LineSession]]:
    sessions: list[LineSession] = []

    async def handler(conn: Connection) -> None:
        session = session_factory(conn)
        sessions.append(session)
        await run_shell(conn, session, deadlines)

    listener = Listener([("127.0.0.1", 0)], handler)
    await listener.start()
    return listener, sessions


def test_lines_and_quit(run) -> None:
    async def scenario() -> list[str]:
        listener, sessions = await _serve(LineSession)
        reader, writer = await asyncio.open_connection(*listener.addresses[0])
        writer.write(b"he")
        await writer.drain()
        await asyncio.sleep(0.02)
        writer.write(b"llo\nQUIT\nignored\n")
        assert await reader.read() == b"HELLO\nBYE\n"  # the shell closed after QUIT
        writer.close()
        await listener.stop()
        return sessions[0].events

    assert run(scenario()) == ["line:hello", "line:QUIT"]


def test_idle_timeout_from_session(run) -> None:
    async def scenario() -> list[str]:
        listener, sessions = await _serve(lambda conn: LineSession(conn, idle_timeout=0.1))
        reader, writer = await asyncio.open_connection(*listener.addresses[0])
        assert await reader.read() == b"BYE idle\n"
        writer.close()
        await writer.wait_closed()
        await listener.stop()
        return sessions[0].events

    assert run(scenario()) == ["timeout"]


def test_eof(run) -> None:
    async def scenario() -> list[str]:
        listener, sessions = await _serve(LineSession)
        reader, writer = await asyncio.open_connection(*listener.addresses[0])
        writer.write(b"a\n")
        assert await reader.readline() == b"A\n"
        writer.write_eof()
        assert await reader.read() == b""
        writer.close()
        await listener.stop()
        return sessions[0].events

    assert run(scenario()) == ["line:a", "eof"]


class FarewellSession(LineSession):
    async def on_shutdown(self) -> None:
        self.events.append("shutdown")
        await self.conn.write(b"BYE stopping\n")


class SlowSession(FarewellSession):
    async def on_data(self, data: bytes) -> None:
        await asyncio.sleep(0.2)
        await super().on_data(data)


def test_stop_ends_a_session_waiting_for_its_peer_with_its_goodbye(run) -> None:
    async def scenario() -> list[str]:
        listener, sessions = await _serve(FarewellSession)
        reader, writer = await asyncio.open_connection(*listener.addresses[0])
        writer.write(b"a\n")
        assert await reader.readline() == b"A\n"
        await listener.stop(timeout=5.0)
        assert await reader.read() == b"BYE stopping\n"
        writer.close()
        return sessions[0].events

    assert run(scenario()) == ["line:a", "shutdown"]


def test_stop_lets_a_command_in_progress_finish_first(run) -> None:
    async def scenario() -> list[str]:
        listener, sessions = await _serve(SlowSession)
        reader, writer = await asyncio.open_connection(*listener.addresses[0])
        writer.write(b"a\n")
        await asyncio.sleep(0.05)  # the session is inside on_data
        await listener.stop(timeout=5.0)
        assert await reader.read() == b"A\nBYE stopping\n"
        writer.close()
        return sessions[0].events

    assert run(scenario()) == ["line:a", "shutdown"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class PhasedSession(LineSession):
    """Lines, and "DATA n": n octets of content follow (the TRANSFER phase)."""

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self.content_left = 0

    @property
    def phase(self) -> Phase:
        if self.content_left:
            return Phase.TRANSFER
        return Phase.COMMAND if self.buffer else Phase.IDLE

    async def on_data(self, data: bytes) -> None:
        if self.content_left:
            taken = data[: self.content_left]
            self.content_left -= len(taken)
            self.events.append(f"content:{len(taken)}")
            data = data[len(taken):]
        if data.startswith(b"DATA "):
            self.content_left = int(data.split()[1])
            self.events.append("data")
            return
        await super().on_data(data)


async def _trickle(deadlines: Deadlines, clock: FakeClock, pieces: list[tuple[float, bytes]]) -> list[str]:
    """Send each piece ``seconds`` (on the fake clock) after the previous one was taken; stop at the end
    or when the server closes."""
    listener, sessions = await _serve(PhasedSession, deadlines)
    _reader, writer = await asyncio.open_connection(*listener.addresses[0])
    await wait_for(lambda: sessions)
    session = sessions[0]

    def progress() -> tuple[int, int, int]:
        return len(session.events), len(session.buffer), session.content_left

    for seconds, piece in pieces:
        clock.now += seconds
        before = progress()
        writer.write(piece)
        await writer.drain()
        await wait_for(lambda before=before: progress() != before)
        if "timeout" in session.events:
            break
    writer.close()
    await listener.stop()
    return session.events


async def wait_for(predicate) -> None:
    async with asyncio.timeout(5):
        while not predicate():
            await asyncio.sleep(0.005)


def test_a_command_trickled_in_misses_its_deadline(run) -> None:
    """1 byte every 5 s: each byte comes well within any idle timer, but the command does not."""
    clock = FakeClock()
    deadlines = Deadlines(idle=60.0, clock=clock)
    line = [(5.0, bytes([b])) for b in b"NOOP and a long tail of words\n"]
    events = run(_trickle(deadlines, clock, line))
    assert events == ["timeout"]  # 13 bytes in 65 s: the line never completed


def test_commands_each_in_time_keep_the_session_however_long(run) -> None:
    clock = FakeClock()
    lines = [(50.0, b"noop\n")] * 10  # 500 s in all, each command 50 s after the last reply
    events = run(_trickle(Deadlines(idle=60.0, clock=clock), clock, lines))
    assert events == ["line:noop"] * 10


def test_content_earns_time_at_the_minimum_rate_and_a_trickle_does_not(run) -> None:
    clock = FakeClock()
    deadlines = Deadlines(idle=60.0, transfer=10.0, min_rate=100.0, clock=clock)
    fast = [(1.0, b"DATA 3000\n")] + [(4.0, b"x" * 500)] * 6  # 125 bytes/s: 24 s, allowed 10 + 30
    assert run(_trickle(deadlines, clock, [*fast, (1.0, b"next\n")])) == [
        "data", *["content:500"] * 6, "line:next"]
    clock = FakeClock()
    deadlines = Deadlines(idle=60.0, transfer=10.0, min_rate=100.0, clock=clock)
    slow = [(1.0, b"DATA 3000\n")] + [(5.0, b"x" * 100)] * 30  # 20 bytes/s
    events = run(_trickle(deadlines, clock, slow))
    # 10 s + 1 s earned per 100 bytes: the third piece comes at 16 s, past the deadline (14 s)
    assert events == ["data", *["content:100"] * 3, "timeout"]
