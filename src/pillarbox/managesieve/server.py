"""The asyncio side of ManageSieve: the handler app.py gives the ``managesieve`` listener (port 4190)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pillarbox.managesieve.session import ManageSieveServices, ManageSieveSession
from pillarbox.net.listener import Connection
from pillarbox.net.shell import Deadlines, run_shell

Handler = Callable[[Connection], Awaitable[None]]
TOO_MANY_CONNECTIONS = b'BYE (TRYLATER) "Too many connections, try again later"\r\n'


def make_handler(services: ManageSieveServices) -> Handler:
    async def handle(conn: Connection) -> None:
        session = ManageSieveSession(conn, services)
        await session.greet()
        await run_shell(conn, session, Deadlines(services.timeout))

    return handle
