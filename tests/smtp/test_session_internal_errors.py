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

    async def write(self, data: bytes) -> None:
        self.written += data


class BrokenDirectory:
    async def is_local_domain(self, domain: str) -> bool:
        raise RuntimeError("simulated bug")


def test_an_exception_in_a_handler_is_a_451_and_the_session_goes_on():
    settings = SMTPSettings(hostname="mx.test", max_message_size=1 << 20, max_recipients=10,
                            max_command_errors=10, timeout=60, line_limit=4096)
    services = SMTPServices(settings, BrokenDirectory(), None, None, None, None)  # type: ignore[arg-type]
    conn = FakeConnection()
    session = SMTPSession(conn, services, Role.MX)  # type: ignore[arg-type]

    async def talk() -> None:
        await session.on_data(b"EHLO peer\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<b@example.com>\r\nNOOP\r\n")

    asyncio.run(talk())
    lines = conn.written.split(b"\r\n")
    assert b"451 4.3.0 Local error in processing, try again later" in lines
    assert lines[-2] == b"250 2.0.0 OK" and not session.closed
