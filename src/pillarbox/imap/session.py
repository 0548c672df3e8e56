"""One IMAP session: framed commands in, the state machine of RFC 9051 3, responses out.

The framer (sans-IO) turns bytes into whole commands; the parser turns a command into a typed value;
this module checks the command is allowed in the current state (a table: command → states), runs
its handler, then reports what other sessions changed in the selected mailbox (the view reads the
store's change log) before the tagged completion — never EXPUNGE during FETCH, STORE or SEARCH.

Three commands turn the conversation around and are handled here: STARTTLS (the plaintext pipelined
behind it is dropped, CVE-2011-0411 class), AUTHENTICATE (SASL challenges until done), and IDLE
(updates pushed by a task woken by the change feed until the client sends DONE).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pillarbox.auth import sasl
from pillarbox.auth.authenticator import Authenticator, LoginRefused, SaslContinue, SaslExchange
from pillarbox.errors import ProtocolError
from pillarbox.imap import framing
from pillarbox.imap import response as r
from pillarbox.imap.fetch import StructureCache
from pillarbox.imap.parser import parse_command
from pillarbox.imap.parser.commands import Authenticate, Command
from pillarbox.imap.selected import SelectedMailbox
from pillarbox.net.listener import Connection
from pillarbox.net.tls import TLSContextHolder
from pillarbox.obs import Counter, get_logger, log_event
from pillarbox.store.api import Store
from pillarbox.store.records import Account

log = get_logger("imap")
SESSIONS = Counter("pillarbox_imap_sessions_total", "IMAP sessions started", ("tls",))
COMMANDS = Counter("pillarbox_imap_commands_total", "IMAP commands by name and status", ("command", "status"))
PRE_AUTH_TIMEOUT = 60.0


class State(enum.Enum):
    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


ANY = frozenset(State) - {State.LOGOUT}
NOT_AUTH = frozenset({State.NOT_AUTHENTICATED})
AUTH = frozenset({State.AUTHENTICATED, State.SELECTED})
SELECTED = frozenset({State.SELECTED})
Handler = Callable[["IMAPSession", Any], Awaitable[r.TaggedReply]]


@dataclass(frozen=True)
class IMAPSettings:
    hostname: str
    timeout: float
    max_literal: int
    max_command_errors: int


@dataclass(frozen=True)
class IMAPServices:
    settings: IMAPSettings
    store: Store
    authenticator: Authenticator
    tls: TLSContextHolder


class IMAPSession:
    def __init__(self, conn: Connection, services: IMAPServices, implicit_tls: bool) -> None:
        from pillarbox.imap.commands import TABLE  # the commands import this module's types

        self.conn = conn
        self.services = services
        self.store = services.store
        self.settings = services.settings
        self.table = TABLE
        self.framer = framing.CommandFramer(max_literal=services.settings.max_literal)
        self.state = State.NOT_AUTHENTICATED
        self.closed = False
        self.session_id = secrets.token_hex(6)
        self.user: Account | None = None
        self.selected: SelectedMailbox | None = None
        self.enabled: set[str] = set()
        self.saved_search: list[int] = []
        self.structures = StructureCache()
        self.errors = 0
        self._out: list[bytes] = []
        self._write_lock = asyncio.Lock()
        self._sasl: tuple[str, SaslExchange] | None = None
        self._idle: tuple[str, asyncio.Task[None]] | None = None
        self.implicit_tls = implicit_tls

    # -- state --------------------------------------------------------------------------------------

    @property
    def idle_timeout(self) -> float:
        return PRE_AUTH_TIMEOUT if self.user is None else self.settings.timeout

    @property
    def utf8(self) -> bool:
        return "UTF8=ACCEPT" in self.enabled

    @property
    def rev2(self) -> bool:
        return "IMAP4REV2" in self.enabled

    def capabilities(self) -> list[str]:
        caps = ["IMAP4rev1", "IMAP4rev2", "LITERAL+", "SASL-IR", "ID", "ENABLE", "IDLE"]
        if self.state is State.NOT_AUTHENTICATED:
            if self.conn.is_tls:
                caps += [f"AUTH={name}" for name in sasl.mechanisms_for(tls=True)]
            else:
                caps += ["STARTTLS", "LOGINDISABLED"]
            return caps
        return [
            *caps,
            "NAMESPACE",
            "UIDPLUS",
            "MOVE",
            "UNSELECT",
            "CHILDREN",
            "SPECIAL-USE",
            "LIST-EXTENDED",
            "LIST-STATUS",
            "STATUS=SIZE",
            f"APPENDLIMIT={self.settings.max_literal}",
            "ESEARCH",
            "SEARCHRES",
            "BINARY",
        ]

    def select(self, view: SelectedMailbox | None) -> None:
        self.selected = view
        self.saved_search = []
        self.state = State.SELECTED if view is not None else State.AUTHENTICATED

    def login(self, account: Account) -> None:
        self.user = account
        self.state = State.AUTHENTICATED

    # -- output ---------------------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        self._out.append(data)

    async def flush(self) -> None:
        if self._out:
            data, self._out = b"".join(self._out), []
            async with self._write_lock:
                await self.conn.write(data)

    # -- shell interface ------------------------------------------------------------------------------

    async def greet(self) -> None:
        SESSIONS.inc(tls=str(self.conn.is_tls).lower())
        code = r.code_capability(self.capabilities())
        self.send(r.UntaggedReply("OK", "Pillarbox IMAP ready", code).to_bytes())
        await self.flush()

    async def on_timeout(self) -> None:
        await self._stop_idle()
        self.send(r.bye("Autologout; idle for too long").to_bytes())
        await self.flush()
        self.closed = True

    async def on_shutdown(self) -> None:
        await self._stop_idle()
        self.send(r.bye("Server shutting down", r.UNAVAILABLE).to_bytes())
        await self.flush()
        self.closed = True

    async def on_eof(self) -> None:
        await self._stop_idle()
        self.closed = True

    async def on_data(self, data: bytes) -> None:
        self.framer.receive_data(data)
        while not self.closed:
            event = self.framer.next_command()
            if isinstance(event, framing.Sentinel):
                break
            await self._event(event)
        await self.flush()

    async def _event(self, event: framing.Event) -> None:
        if isinstance(event, framing.FramedCommand):
            await self._command(event)
        elif isinstance(event, framing.NeedContinuation):
            self.send(r.continuation())
            await self.flush()
            self.framer.accept_literal()
        elif isinstance(event, framing.RawLine):
            await self._raw_line(event.line)
        elif isinstance(event, framing.FramingError):
            self._reply(event.reply)
        elif isinstance(event, framing.ConnectionClosed):
            self.closed = True

    # -- commands -------------------------------------------------------------------------------------

    async def _command(self, framed: framing.FramedCommand) -> None:
        try:
            command = parse_command(framed, utf8=self.utf8)
            reply = await self._run(command)
        except ProtocolError as exc:
            reply = exc.reply
            if isinstance(reply, r.TaggedReply) and reply.tag == "*":
                reply = r.TaggedReply(framed.tag or "*", reply.status, reply.text, reply.code)
            if self._sasl is None and self._idle is None:
                self._resume()
        if reply is not None:
            self._reply(reply)

    async def _run(self, command: Command) -> r.TaggedReply | None:
        entry = self.table.get(command.name)
        if entry is None:
            raise ProtocolError(r.bad(command.tag, f"Unknown command {command.name}"))
        states, handler = entry
        if self.state not in states:
            raise ProtocolError(r.bad(command.tag, f"{command.name} not allowed now ({self.state.value})"))
        reply = await handler(self, command)
        if reply is not None and self.state is State.SELECTED and self.selected is not None:
            await self.report_changes(allow_expunge=command.name not in ("FETCH", "STORE", "SEARCH"))
        return reply

    def _reply(self, reply: r.TaggedReply | r.UntaggedReply) -> None:
        if isinstance(reply, r.TaggedReply):
            COMMANDS.inc(command="?", status=reply.status)
            if reply.status == "BAD":
                self.errors += 1
        self.send(reply.to_bytes())
        if self.errors >= self.settings.max_command_errors:
            self.send(r.bye("Too many invalid commands").to_bytes())
            self.closed = True

    async def report_changes(self, allow_expunge: bool) -> None:
        """Untagged EXPUNGE/EXISTS/FETCH for what other sessions changed (RFC 9051 7.4.1, 5.2)."""
        view = self.selected
        assert view is not None
        changes = await self.store.changes_since(view.id, view.known_modseq)
        update = view.apply(changes, allow_expunge)
        for seq in update.expunged:
            self.send(r.expunge_data(seq))
        if update.exists is not None:
            self.send(r.exists_data(update.exists))
        for entry in update.flags:
            seq = view.seq_of(entry.uid)
            if seq is not None:
                items = [("FLAGS", r.flag_list(sorted(entry.flags))), ("UID", b"%d" % entry.uid)]
                self.send(r.fetch_data(seq, items))

    # -- STARTTLS, AUTHENTICATE, IDLE -------------------------------------------------------------------

    async def starttls(self, command: Command) -> r.TaggedReply | None:
        if self.conn.is_tls:
            self._resume()
            return r.bad(command.tag, "TLS is already active")
        self.send(r.ok(command.tag, "Begin TLS negotiation now").to_bytes())
        await self.flush()
        discarded = len(self.framer.take_buffered())
        discarded += await self.conn.start_tls(self.services.tls.context)
        if discarded:
            log_event(
                log,
                "warning",
                "discarded commands pipelined after STARTTLS",
                session=self.session_id,
                client=self.conn.peer[0],
                octets=discarded,
            )
        self.framer.resume()
        return None

    async def authenticate(self, command: Authenticate) -> r.TaggedReply | None:
        exchange = self.services.authenticator.start_sasl("imap", self.conn.peer[0], command.mechanism)
        if exchange is None:
            self._resume()
            return r.no(command.tag, None, f"Unsupported mechanism {command.mechanism}")
        self._sasl = (command.tag, exchange)
        initial = command.initial_response
        try:
            decoded = sasl.decode_response(initial, initial=True) if initial is not None else None
        except sasl.SASLError:
            return self._end_sasl(r.bad(command.tag, "Invalid base64"))
        return await self._sasl_step(exchange.start(decoded))

    async def _raw_line(self, line: bytes) -> None:
        if self._idle is not None:
            await self._end_idle(line)
            return
        if self._sasl is None:
            self._resume()
            return
        tag, exchange = self._sasl
        if line.strip() == b"*":
            self._reply(self._end_sasl(r.bad(tag, "Authentication cancelled")))
            return
        try:
            decoded = sasl.decode_response(line)
        except sasl.SASLError:
            self._reply(self._end_sasl(r.bad(tag, "Invalid base64")))
            return
        reply = await self._sasl_step(exchange.step(decoded))
        if reply is not None:
            self._reply(reply)

    async def _sasl_step(self, advance: Awaitable[Any]) -> r.TaggedReply | None:
        assert self._sasl is not None
        tag = self._sasl[0]
        try:
            outcome = await advance
        except LoginRefused as refused:
            code = r.UNAVAILABLE if refused.locked else r.AUTHENTICATIONFAILED
            return self._end_sasl(r.no(tag, code, "Authentication failed"))
        except sasl.SASLError:
            return self._end_sasl(r.bad(tag, "Invalid SASL exchange"))
        if isinstance(outcome, SaslContinue):
            self.send(b"+ " + sasl.encode_challenge(outcome.challenge).encode() + b"\r\n")
            self.framer.expect_line()
            return None
        self.login(outcome.account)
        return self._end_sasl(r.ok(tag, "Logged in", r.code_capability(self.capabilities())))

    def _end_sasl(self, reply: r.TaggedReply) -> r.TaggedReply:
        self._sasl = None
        self._resume()
        return reply

    def _resume(self) -> None:
        """After a turn-around command: back to framing commands (a raw line already did that)."""
        if self.framer.paused:
            self.framer.resume()

    async def idle(self, command: Command) -> None:
        self.send(r.continuation("idling"))
        await self.flush()
        self._idle = (command.tag, asyncio.create_task(self._push_updates()))
        self.framer.expect_line()

    async def _push_updates(self) -> None:
        view = self.selected
        while view is not None:
            await self.store.changes.wait({view.id: view.known_modseq}, timeout=None)
            await self.report_changes(allow_expunge=True)
            await self.flush()

    async def _end_idle(self, line: bytes) -> None:
        assert self._idle is not None
        tag = self._idle[0]
        await self._stop_idle()
        self._resume()
        if line.strip().upper() != b"DONE":
            self._reply(r.bad(tag, "Expected DONE"))
            return
        if self.selected is not None:
            await self.report_changes(allow_expunge=True)
        self._reply(r.ok(tag, "IDLE terminated"))

    async def _stop_idle(self) -> None:
        if self._idle is None:
            return
        _, task = self._idle
        self._idle = None
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
