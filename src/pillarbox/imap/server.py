"""The asyncio side of IMAP: the handler given to the imap (143) and imaps (993) listeners."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pillarbox.imap.session import IMAPServices, IMAPSession
from pillarbox.net.listener import Connection
from pillarbox.net.shell import run_shell
from pillarbox.obs import get_logger, log_event

log = get_logger("imap")


def make_handler(services: IMAPServices, implicit_tls: bool) -> Callable[[Connection], Awaitable[None]]:
    async def handle(conn: Connection) -> None:
        session = IMAPSession(conn, services, implicit_tls)
        try:
            await session.greet()
            await run_shell(conn, session, services.settings.deadlines)
        finally:  # one summary line per session, however it ended
            session.finish()
            log_event(log, "info", "imap session", session=session.session_id, client=conn.peer[0],
                      user=session.user.address if session.user else None,
                      **session.tally.fields(conn.bytes_in, conn.bytes_out))

    return handle
