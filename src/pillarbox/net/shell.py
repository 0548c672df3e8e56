"""The one asyncio shell around sans-IO protocol cores: read bytes, hand them over, keep the peer to its deadlines.

A protocol (SMTP, IMAP, POP3) is split in two (ARCHITECTURE habit 1):

- the *core* is pure: ``core.receive_data(bytes)`` → events, replies → bytes; it never awaits;
- the *session* owns one core and one ``Connection``; it turns events into actions (store lookups,
  authentication...) and writes the core's output with ``await conn.write(...)``.

``run_shell`` is the only loop that reads from the socket. It never interprets bytes; it stops when
the session says ``closed``, when the peer closes, or when the peer misses its deadline, and it
always closes the connection at the end. A session that must speak unprompted (IMAP IDLE updates)
writes from its own task; the shell keeps reading meanwhile.

Deadlines, not idle timers: a timer restarted by every read lets a peer that sends one byte every
few seconds hold a command (and the connection) open forever. So the shell asks the session, after
each read, which ``Phase`` it is in:

- ``IDLE``, waiting for the next command: the peer has ``idle_timeout`` seconds from now to send all
  of it (the RFC minimums are minimums for this wait: SMTP 5 minutes, RFC 5321 4.5.3.2.7; IMAP after
  login 30 minutes, RFC 9051 5.4; POP3 10 minutes, RFC 1939 3);
- ``COMMAND``, part of a command has arrived: the deadline stands, bytes do not move it;
- ``TRANSFER``, message content or a literal: ``Deadlines.transfer`` seconds from its start (never
  more than ``idle_timeout``), plus one second for every ``min_rate`` bytes received (Postfix's
  smtpd_min_data_rate works the same way), so a large message at a sane speed always fits and a
  trickle does not.

The clock is injectable (``Deadlines.clock``) so tests can move time instead of waiting for it.

Example (a line echo protocol)::

    class EchoSession:
        closed = False
        idle_timeout = 300.0        # optional: read after every read, so it may change with state
        phase = Phase.IDLE          # optional: the session's place in its input (see above)

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
        await run_shell(conn, EchoSession(conn), Deadlines(idle=60.0))

STARTTLS: the session writes its "go ahead" reply, then calls ``await conn.start_tls(ctx)``, which
drops plaintext bytes still buffered in the connection; the session must also drop whatever its core
buffered after the STARTTLS command (CVE-2011-0411), then carries on — the shell's next read is TLS.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from pillarbox.net.listener import DEFAULT_READ_SIZE, Connection

DEFAULT_TRANSFER_TIMEOUT = 300.0
DEFAULT_MIN_RATE = 1024.0


class Phase(enum.Enum):
    IDLE = "idle"
    COMMAND = "command"
    TRANSFER = "transfer"


@dataclass(frozen=True)
class Deadlines:
    idle: float
    """Seconds to send the next command; a session's own ``idle_timeout`` overrides it."""
    transfer: float = DEFAULT_TRANSFER_TIMEOUT
    min_rate: float = DEFAULT_MIN_RATE
    """Bytes per second of content or literal that earn one more second."""
    clock: Callable[[], float] = time.monotonic


class Session(Protocol):
    """What ``run_shell`` needs from a protocol session. ``closed`` set to True ends the loop."""

    closed: bool

    async def on_data(self, data: bytes) -> None: ...

    async def on_timeout(self) -> None: ...

    async def on_eof(self) -> None: ...


class _Deadline:
    """When the peer must have sent what the session waits for (see the module essay)."""

    def __init__(self, deadlines: Deadlines, session: Session) -> None:
        self._deadlines = deadlines
        self._session = session
        self._phase = Phase.IDLE
        self._at = deadlines.clock() + self._idle()

    def remaining(self) -> float:
        return self._at - self._deadlines.clock()

    def received(self, octets: int) -> None:
        """The session took ``octets``: move the deadline for the phase it is in now."""
        phase = getattr(self._session, "phase", Phase.IDLE)
        now = self._deadlines.clock()
        if phase is Phase.IDLE:
            self._at = now + self._idle()
        elif phase is Phase.TRANSFER:
            if self._phase is not Phase.TRANSFER:
                self._at = now + min(self._idle(), self._deadlines.transfer)
            self._at += octets / self._deadlines.min_rate
        self._phase = phase

    def _idle(self) -> float:
        return getattr(self._session, "idle_timeout", None) or self._deadlines.idle


async def run_shell(
    conn: Connection, session: Session, deadlines: Deadlines, read_size: int = DEFAULT_READ_SIZE
) -> None:
    """Feed ``session`` with what ``conn`` receives until it closes; then close ``conn``.

    A session attribute ``idle_timeout`` (if it has one) overrides ``deadlines.idle``, so a session
    can allow 30 minutes in IMAP IDLE but 60 s before login.
    """
    deadline = _Deadline(deadlines, session)
    try:
        while not session.closed:
            try:
                data = await _read(conn, deadline.remaining(), read_size)
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
            deadline.received(len(data))
    finally:
        await conn.close()


async def _read(conn: Connection, seconds: float, read_size: int) -> bytes | None:
    if seconds <= 0:
        raise TimeoutError
    async with asyncio.timeout(seconds):
        return await conn.read_unless_stopping(read_size)


async def _shutdown(session: Session) -> None:
    farewell = getattr(session, "on_shutdown", None)
    if farewell is not None:
        await farewell()


async def _quietly(step: Awaitable[None]) -> None:
    """Run a farewell step; if the peer is gone by then, there is nobody left to tell."""
    with contextlib.suppress(ConnectionError):
        await step
