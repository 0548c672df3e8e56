"""The asyncio side of POP3: one handler per listener (pop3 on 110 with STLS, pop3s on 995), given to
a Listener by app.py. Both share the store's one ``MaildropLocks``, so a session on 110 and one on 995
exclude each other (RFC 1939 4)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from pillarbox.auth.authenticator import Authenticator
from pillarbox.config import Config
from pillarbox.net.listener import Connection
from pillarbox.net.shell import Deadlines, run_shell
from pillarbox.net.tls import TLSContextHolder
from pillarbox.pop3 import replies
from pillarbox.pop3.session import POP3Services, POP3Session, POP3Settings
from pillarbox.store.api import Store

Handler = Callable[[Connection], Awaitable[None]]
TOO_MANY_CONNECTIONS = replies.TOO_MANY_CONNECTIONS.to_bytes()


class AppServices(Protocol):
    """What app.Services offers that POP3 needs (app is a floor above; we name only its shape)."""

    @property
    def config(self) -> Config: ...
    @property
    def store(self) -> Store: ...
    @property
    def authenticator(self) -> Authenticator: ...
    @property
    def tls(self) -> TLSContextHolder: ...


def make_app_handler(services: AppServices) -> Handler:
    """The ``ServiceSpec.make_handler`` of the pop3 and pop3s listeners."""
    config, limits = services.config, services.config.limits
    settings = POP3Settings(
        hostname=config.hostname, line_limit=limits.max_line_length, timeout=limits.pop3_timeout,
        max_command_errors=limits.max_command_errors,
    )
    locks = services.store.maildrop_locks()
    return make_handler(POP3Services(settings, services.store, services.authenticator, services.tls, locks))


def make_handler(services: POP3Services) -> Handler:
    async def handle(conn: Connection) -> None:
        session = POP3Session(conn, services)
        try:
            await session.greet()
            await run_shell(conn, session, Deadlines(services.settings.timeout))
        finally:
            session.finish()

    return handle
