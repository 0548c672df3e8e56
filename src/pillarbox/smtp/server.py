"""The asyncio side of SMTP: one handler per role, given to a Listener by app.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pillarbox.net.listener import Connection
from pillarbox.net.shell import run_shell
from pillarbox.smtp.envelope import Role
from pillarbox.smtp.session import SMTPServices, SMTPSession


def make_handler(services: SMTPServices, role: Role) -> Callable[[Connection], Awaitable[None]]:
    async def handle(conn: Connection) -> None:
        session = SMTPSession(conn, services, role)
        try:
            await session.greet()
            await run_shell(conn, session, services.settings.deadlines)
        finally:
            session.finish()

    return handle
