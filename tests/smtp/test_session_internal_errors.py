"""A bug behind a command costs the client that command (451), never the connection."""

from __future__ import annotations

import asyncio

from pillarbox.smtp.envelope import Role
from pillarbox.smtp.session import SMTPServices, SMTPSession, SMTPSettings


class FakeConnection:
    peer = ("127.0.0.1", 40000)
    is_tls = False
    tls_info = None

    def __init__(self) -> None:
        self.written = b""
        self.writes = 0

    async def write(self, data: bytes) -> None:
        self.written += data
        self.writes += 1


class BrokenDirectory:
    async def is_local_domain(self, domain: str) -> bool:
        raise RuntimeError("simulated bug")


def _session() -> tuple[SMTPSession, FakeConnection]:
    settings = SMTPSettings(hostname="mx.test", max_message_size=1 << 20, max_recipients=10,
                            max_command_errors=10, timeout=60, line_limit=4096)
    services = SMTPServices(settings, BrokenDirectory(), None, None, None, None)  # type: ignore[arg-type]
    conn = FakeConnection()
    return SMTPSession(conn, services, Role.MX), conn  # type: ignore[arg-type]


def test_an_exception_in_a_handler_is_a_451_and_the_session_goes_on():
    session, conn = _session()

    async def talk() -> None:
        await session.on_data(b"EHLO peer\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<b@example.com>\r\nNOOP\r\n")

    asyncio.run(talk())
    lines = conn.written.split(b"\r\n")
    assert b"451 4.3.0 Local error in processing, try again later" in lines
    assert lines[-2] == b"250 2.0.0 OK" and not session.closed


def test_the_replies_of_a_pipelined_group_leave_in_one_write():
    """RFC 2920 3.2: a server may hold replies until the group is read; one write (one send(2)) per
    group instead of one per reply is most of what a short session costs the kernel."""
    session, conn = _session()

    async def talk() -> None:
        await session.on_data(b"EHLO peer\r\nNOOP\r\nRSET\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<b@example.com>\r\n")
        assert conn.writes == 1 and conn.written.count(b"\r\n250 ") == 3  # EHLO's last line, NOOP, RSET
        await session.on_data(b"NOOP\r\nQUIT\r\n")

    asyncio.run(talk())
    assert conn.writes == 2 and conn.written.endswith(b"250 2.0.0 OK\r\n221 2.0.0 Bye\r\n")
