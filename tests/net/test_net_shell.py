"""The generic shell: data goes to the session, silence ends in on_timeout, EOF in on_eof."""

from __future__ import annotations

import asyncio

from pillarbox.net.listener import Connection, Listener
from pillarbox.net.shell import run_shell


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


async def _serve(session_factory) -> tuple[Listener, list[LineSession]]:
    sessions: list[LineSession] = []

    async def handler(conn: Connection) -> None:
        session = session_factory(conn)
        sessions.append(session)
        await run_shell(conn, session, idle_timeout=5.0)

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
