"""One ManageSieve connection (RFC 5804): states, commands, and the same SASL and throttle as IMAP.

Before TLS no authentication at all, on every address including loopback (principle 8): the
capability list then has ``"SASL" ""`` (like IMAP's LOGINDISABLED) and AUTHENTICATE answers
``NO (ENCRYPT-NEEDED)``. STARTTLS is followed by a fresh capability list (2.2). A refused login is
``NO`` and counts against the throttle; a locked-out client hears the same ``NO`` (as in IMAP: it must
not learn that its guesses are no longer checked).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pillarbox.auth import sasl
from pillarbox.auth.authenticator import Authenticator, LoginRefused, SaslContinue, SaslExchange, SaslSuccess
from pillarbox.delivery import scripts as ops
from pillarbox.delivery.filtering import SieveSettings
from pillarbox.managesieve.protocol import Command, ManageSieveError, Parser, quote, response
from pillarbox.net.listener import Connection
from pillarbox.net.tls import TLSContextHolder
from pillarbox.obs import get_logger, log_event
from pillarbox.sieve.errors import SieveSyntaxError
from pillarbox.sieve.spec import EXTENSIONS
from pillarbox.store.api import SieveStore
from pillarbox.store.records import Account

log = get_logger("managesieve")
PROTOCOL = "managesieve"


@dataclass(frozen=True)
class ManageSieveServices:
    hostname: str
    store: SieveStore
    authenticator: Authenticator
    tls: TLSContextHolder | None
    settings: SieveSettings
    timeout: float = 1800
    max_command_errors: int = 10


class ManageSieveSession:
    def __init__(self, conn: Connection, services: ManageSieveServices) -> None:
        self.conn = conn
        self.services = services
        self.settings = services.settings
        self.parser = Parser(max_literal=services.settings.max_script_size + 1024)
        self.account: Account | None = None
        self.exchange: SaslExchange | None = None
        self.closed = False
        self.errors = 0
        self.session_id = secrets.token_hex(6)
        self.idle_timeout = services.timeout

    async def greet(self) -> None:
        await self.conn.write(self.capabilities() + response("OK", None, "Pillarbox ManageSieve ready"))

    def capabilities(self) -> bytes:
        tls = self.conn.is_tls
        lines = ['"IMPLEMENTATION" "Pillarbox"', f'"SASL" "{" ".join(sasl.mechanisms_for(tls=tls))}"',
                 f'"SIEVE" "{" ".join(EXTENSIONS)}"', f'"MAXREDIRECTS" "{self.settings.limits.max_redirects}"',
                 '"VERSION" "1.0"', '"UNAUTHENTICATE"']
        if not tls and self.services.tls is not None:
            lines.append('"STARTTLS"')
        if self.account is not None:
            lines.append(f'"OWNER" {quote(self.account.address)}')
        return "".join(line + "\r\n" for line in lines).encode()

    async def on_data(self, data: bytes) -> None:
        self.parser.receive(data)
        while not self.closed:
            try:
                if self.exchange is not None:
                    answer = self.parser.next_sasl_response()
                    if answer is None:
                        return
                    await self.conn.write(await self._sasl_answer(answer))
                    continue
                command = self.parser.next_command()
                if command is None:
                    return
                await self.conn.write(await self._dispatch(command))
            except ManageSieveError as error:
                await self._syntax_error(error)

    async def _syntax_error(self, error: ManageSieveError) -> None:
        self.errors += 1
        self.exchange = None
        if error.fatal or self.errors >= self.services.max_command_errors:
            await self.conn.write(response("BYE", None, f"{error}: closing"))
            self.closed = True
            return
        await self.conn.write(response("NO", None, str(error)))

    async def on_timeout(self) -> None:
        await self.conn.write(response("BYE", "TRYLATER", "idle for too long"))

    async def on_eof(self) -> None:
        self.closed = True

    async def on_shutdown(self) -> None:
        await self.conn.write(response("BYE", "TRYLATER", "server shutting down"))

    async def _dispatch(self, command: Command) -> bytes:
        handler = self._handlers().get(command.name)
        if handler is None:
            self.errors += 1
            return response("NO", None, f"unknown command {command.name}")
        needs_auth, run = handler
        if needs_auth and self.account is None:
            return response("NO", None, "authenticate first")
        try:
            return await run(command.arguments)
        except ops.ScriptError as error:
            return response("NO", error.code, str(error))
        except SieveSyntaxError as error:
            return response("NO", None, str(error))
        except (TypeError, ValueError, IndexError):
            self.errors += 1
            return response("NO", None, f"wrong arguments for {command.name}")

    def _handlers(self) -> dict[str, tuple[bool, Callable[[tuple[str | int, ...]], Awaitable[bytes]]]]:
        return {
            "CAPABILITY": (False, self._capability), "LOGOUT": (False, self._logout), "NOOP": (False, self._noop),
            "STARTTLS": (False, self._starttls), "AUTHENTICATE": (False, self._authenticate),
            "UNAUTHENTICATE": (True, self._unauthenticate), "HAVESPACE": (True, self._havespace),
            "PUTSCRIPT": (True, self._putscript), "CHECKSCRIPT": (True, self._checkscript),
            "LISTSCRIPTS": (True, self._listscripts), "SETACTIVE": (True, self._setactive),
            "GETSCRIPT": (True, self._getscript), "DELETESCRIPT": (True, self._deletescript),
            "RENAMESCRIPT": (True, self._renamescript),
        }

    async def _capability(self, args: tuple[str | int, ...]) -> bytes:
        return self.capabilities() + response("OK")

    async def _logout(self, args: tuple[str | int, ...]) -> bytes:
        self.closed = True
        return response("OK", None, "Logout completed")

    async def _noop(self, args: tuple[str | int, ...]) -> bytes:
        if args:  # RFC 5804 2.15: the tag comes back in a TAG response code
            return response("OK", f"TAG {quote(str(args[0]))}", "Done")
        return response("OK", None, "Done")

    async def _starttls(self, args: tuple[str | int, ...]) -> bytes:
        if self.conn.is_tls or self.services.tls is None or self.account is not None:
            return response("NO", None, "STARTTLS not available now")
        await self.conn.write(response("OK", None, "Begin TLS negotiation now"))
        dropped = self.parser.drop() + await self.conn.start_tls(self.services.tls.context)
        if dropped:
            log_event(log, "warning", "bytes pipelined after STARTTLS discarded", session=self.session_id,
                      ip=self.conn.peer[0], octets=dropped)
        return self.capabilities() + response("OK")

    async def _authenticate(self, args: tuple[str | int, ...]) -> bytes:
        if self.account is not None:
            return response("NO", None, "already authenticated")
        if not self.conn.is_tls:
            return response("NO", "ENCRYPT-NEEDED", "authentication only after STARTTLS")
        exchange = self.services.authenticator.start_sasl(PROTOCOL, self.conn.peer[0], str(args[0]), secure=True)
        if exchange is None:
            return response("NO", None, "unknown SASL mechanism")
        initial = None
        if len(args) > 1:
            try:
                initial = sasl.decode_response(str(args[1]).encode("ascii", "replace"), initial=True)
            except sasl.SASLError:
                return response("NO", None, "bad base64 in the initial response")
        self.exchange = exchange
        return await self._advance(lambda: exchange.start(initial))

    async def _sasl_answer(self, answer: str) -> bytes:
        exchange = self.exchange
        assert exchange is not None
        if answer == "*":
            self.exchange = None
            return response("NO", None, "authentication cancelled")
        try:
            data = sasl.decode_response(answer.encode("ascii", "replace"))
        except sasl.SASLError:
            self.exchange = None
            return response("NO", None, "bad base64")
        return await self._advance(lambda: exchange.step(data))

    async def _advance(self, make_step: Callable[[], Awaitable[SaslContinue | SaslSuccess]]) -> bytes:
        try:
            step = await make_step()
        except sasl.SASLError:
            self.exchange = None
            return response("NO", None, "malformed SASL exchange")
        except LoginRefused:  # a locked-out client too: it must not learn that its guesses go unchecked
            self.exchange = None
            return response("NO", None, "authentication failed")
        if isinstance(step, SaslContinue):
            return (quote(sasl.encode_challenge(step.challenge)) + "\r\n").encode()
        self.exchange = None
        if not self.conn.logged_in(step.account.address):
            return response("NO", "TRYLATER", "too many connections for this user from this address")
        self.account = step.account
        log_event(log, "info", "authenticated", session=self.session_id, account=step.account.address)
        if step.additional_data:
            return response("OK", f'SASL "{sasl.encode_challenge(step.additional_data)}"', "Logged in")
        return response("OK", None, "Logged in")

    async def _unauthenticate(self, args: tuple[str | int, ...]) -> bytes:
        self.account = None
        return response("OK")

    @property
    def _owner(self) -> int:
        assert self.account is not None
        return self.account.id

    async def _havespace(self, args: tuple[str | int, ...]) -> bytes:
        await ops.have_space(self.services.store, self._owner, str(args[0]), int(args[1]), self.settings)
        return response("OK")

    async def _putscript(self, args: tuple[str | int, ...]) -> bytes:
        name, content = str(args[0]), str(args[1])
        await ops.put_script(self.services.store, self._owner, name, content, self.settings)
        log_event(log, "info", "script stored", session=self.session_id, account=self.account.address,  # type: ignore[union-attr]
                  script=name, octets=len(content.encode()))
        return response("OK")

    async def _checkscript(self, args: tuple[str | int, ...]) -> bytes:
        ops.check_script(str(args[0]), self.settings)
        return response("OK")

    async def _listscripts(self, args: tuple[str | int, ...]) -> bytes:
        lines = [quote(s.name) + (" ACTIVE" if s.active else "") + "\r\n"
                 for s in await ops.list_scripts(self.services.store, self._owner)]
        return "".join(lines).encode() + response("OK")

    async def _setactive(self, args: tuple[str | int, ...]) -> bytes:
        name = str(args[0])
        await ops.activate(self.services.store, self._owner, name or None)
        return response("OK")

    async def _getscript(self, args: tuple[str | int, ...]) -> bytes:
        script = await ops.get_script(self.services.store, self._owner, str(args[0]))
        data = script.content.encode()
        return b"{%d}\r\n" % len(data) + data + b"\r\n" + response("OK")

    async def _deletescript(self, args: tuple[str | int, ...]) -> bytes:
        await ops.delete(self.services.store, self._owner, str(args[0]))
        return response("OK")

    async def _renamescript(self, args: tuple[str | int, ...]) -> bytes:
        await ops.rename(self.services.store, self._owner, str(args[0]), str(args[1]))
        return response("OK")
