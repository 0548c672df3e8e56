"""The one asyncio shell around sans-IO protocol cores: read bytes, hand them over, watch the idle timer.

A protocol (SMTP, IMAP, POP3) is split in two (ARCHITECTURE habit 1):

- the *core* is pure: ``core.receive_data(bytes)`` → events, replies → bytes; it never awaits;
- the *session* owns one core and one ``Connection``; it turns events into actions (store lookups,
  authentication...) and writes the core's output with ``await conn.write(...)``.

``run_shell`` is the only loop that reads from the socket. It never interprets bytes; it stops when
the session says ``closed``, when the peer closes, or when the peer stays silent too long, and it
always closes the connection at the end. A session that must speak unprompted (IMAP IDLE updates)
writes from its own task; the shell keeps reading meanwhile.

Example (a line echo protocol)::

    class EchoSession:
        closed = False
        idle_timeout = 300.0        # optional: read before every wait, so it may change with state

        def __init__(self, conn: Connection) -> None:
            self.conn, self.core = conn, LineCore()

        async def on_data(self, data: bytes) -> None:
            for line in self.core.receive_data(data):
                if line == b"QUIT":
                    await self.conn.write(b"BYE\\r\\n")
                    self.closed = True
                    return
                await self.conn.write(line + b"\\r\\n")

        async def on_timeout(self) -> None:
            await self.conn.write(b"BYE idle too long\\r\\n")

        async def on_eof(self) -> None:
            pass

    async def handle(conn: Connection) -> None:      # given to Listener
        await run_shell(conn, EchoSession(conn), idle_timeout=60.0)

STARTTLS: the session writes its "go ahead" reply, then calls ``await conn.start_tls(ctx)``, which
drops plaintext bytes still buffered in the connection; the session must also drop whatever its core
buffered after the STARTTLS command (CVE-2011-0411), then carries on — the shell's next read is TLS.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Protocol

from pillarbox.net.listener import DEFAULT_READ_SIZE, Connection


class Session(Protocol):
    """What ``run_shell`` needs from a protocol session. ``closed`` set to True ends the loop."""

    closed: bool

    async def on_data(self, data: bytes) -> None: ...

    async def on_timeout(self) -> None: ...

    async def on_eof(self) -> None: ...


async def run_shell(
    conn: Connection, session: Session, idle_timeout: float, read_size: int = DEFAULT_READ_SIZE
) -> None:
    """Feed ``session`` with what ``conn`` receives until it closes; then close ``conn``.

    ``idle_timeout`` is the default wait for each read; a session attribute ``idle_timeout`` (if it
    has one) overrides it, so a session can allow 30 minutes in IMAP IDLE but 60 s before login.
    """
    try:
        while not session.closed:
            timeout = getattr(session, "idle_timeout", None) or idle_timeout
            try:
                async with asyncio.timeout(timeout):
                    data = await conn.read_unless_stopping(read_size)
            except TimeoutError:
                await _quietly(session.on_timeout())
                return
            except ConnectionError:
                data = b""  # a reset is an end of stream as far as the session cares
            if data is None:
                await _quietly(_shutdown(session))
                return
            if not data:
                await _quietly(session.on_eof())
                return
            await session.on_data(data)
    finally:
        await conn.close()


async def _shutdown(session: Session) -> None:
    farewell = getattr(session, "on_shutdown", None)
    if farewell is not None:
        await farewell()


async def _quietly(step: Awaitable[None]) -> None:
    """Run a farewell step; if the peer is gone by then, there is nobody left to tell."""
    with contextlib.suppress(ConnectionError):
        await step
