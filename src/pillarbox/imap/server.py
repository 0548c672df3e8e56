"""The asyncio side of IMAP: the handler given to the imap (143) and imaps (993) listeners."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pillarbox.imap.session import IMAPServices, IMAPSession
from pillarbox.net.listener import Connection
from pillarbox.net.shell import run_shell


def make_handler(services: IMAPServices, implicit_tls: bool) -> Callable[[Connection], Awaitable[None]]:
    async def handle(conn: Connection) -> None:
        session = IMAPSession(conn, services, implicit_tls)
        try:
            await session.greet()
            await run_shell(conn, session, services.settings.deadlines)
        finally:
            session.finish()

    return handle
