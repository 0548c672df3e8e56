"""One POP3 session: the core's commands in, RFC 1939 states applied to a maildrop snapshot, replies out.

The sans-IO core (``protocol``) frames and parses lines and enforces the state table; this module
decides. It runs in ``net.shell.run_shell``: each chunk of input is fed to the core, every complete
command handled in order (RFC 2449 6.6 PIPELINING: "process each command in turn"), and the replies
of one chunk written together. Handlers return the Reply to send, or bytes (multi-line answers), or
raise ``ProtocolError(reply)``. RETR and TOP write their bodies themselves, behind what is queued and
in the same write, so replies stay in command order, a message of up to ``core.CHUNK_SIZE`` octets is
one write, and a large one goes out in chunks. Their bytes come from ``readahead.py``.

Authentication (USER/PASS, AUTH) lives in ``login.py``; the maildrop snapshot and what QUIT deletes
in ``maildrop.py``. ``finish`` always runs last (server.py), releasing the maildrop lock: a dropped
connection never reaches the UPDATE state, so it deletes nothing (RFC 1939 6).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pillarbox.auth.authenticator import Authenticator
from pillarbox.errors import ProtocolError, StoreError, StoreUnavailable
from pillarbox.mime.downgrade import downgrade
from pillarbox.net.listener import Connection
from pillarbox.net.shell import Phase
from pillarbox.net.tls import TLSContextHolder
from pillarbox.obs import Counter, SessionTally, get_logger, log_event
from pillarbox.pop3 import protocol as core
from pillarbox.pop3 import replies
from pillarbox.pop3.capa import capabilities
from pillarbox.pop3.login import LoginFlow
from pillarbox.pop3.maildrop import Maildrop
from pillarbox.pop3.readahead import ReadAhead
from pillarbox.pop3.replies import Reply
from pillarbox.store.api import MaildropLocks, Store
from pillarbox.store.records import Account

log = get_logger("pop3")
SESSIONS = Counter("pillarbox_pop3_sessions_total", "POP3 sessions by how they ended", ("end",))
RETRIEVED = Counter("pillarbox_pop3_retr_total", "Messages sent in full by POP3 RETR")
RETRIEVED_BYTES = Counter("pillarbox_pop3_retr_bytes_total", "Octets of messages sent by POP3 RETR")
DELETED = Counter("pillarbox_pop3_deleted_total", "Messages removed at POP3 QUIT (DELE or policy)")
ERRORS = Counter("pillarbox_pop3_command_errors_total", "POP3 commands refused as client errors")


@dataclass(frozen=True)
class POP3Settings:
    hostname: str
    line_limit: int = core.DEFAULT_LINE_LIMIT
    timeout: float = 600.0  # RFC 1939 3: an autologout timer of at least 10 minutes
    max_command_errors: int = 10
    login_delay: int = 0


@dataclass(frozen=True)
class POP3Services:
    settings: POP3Settings
    store: Store
    authenticator: Authenticator
    tls: TLSContextHolder | None
    locks: MaildropLocks


Handler = Callable[[core.Command], Awaitable[Reply | bytes | None]]


class POP3Session:
    def __init__(self, conn: Connection, services: POP3Services) -> None:
        self.conn = conn
        self.services = services
        self.settings = services.settings
        self.store = services.store
        self.core = core.POP3ServerProtocol(line_limit=self.settings.line_limit)
        self.closed = False
        self.idle_timeout = self.settings.timeout
        self.session_id = secrets.token_hex(6)
        self.tally = SessionTally()
        self.login = LoginFlow(self)
        self.account: Account | None = None
        self.maildrop: Maildrop | None = None
        self._maildrop_released = False
        self.bodies = ReadAhead(self.store)
        self.utf8 = False
        self.errors = 0
        self.deleted = 0
        self.retr_count = self.retr_octets = 0  # into the metrics at finish: two incs per RETR cost 3% of its CPU
        self.end = "dropped"
        self._out: list[bytes] = []
        self._handlers: dict[str, Handler] = {
            "USER": self.login.user, "PASS": self.login.password, "AUTH": self.login.auth,
            "APOP": self._apop, "STLS": self._stls, "UTF8": self._utf8, "CAPA": self._capa,
            "QUIT": self._quit, "STAT": self._stat, "LIST": self._list, "UIDL": self._uidl,
            "RETR": self._retr, "TOP": self._top, "DELE": self._dele, "NOOP": self._noop,
            "RSET": self._rset,
        }

    # shell interface
    async def greet(self) -> None:
        await self.conn.write(replies.GREETING.format(host=self.settings.hostname).to_bytes())

    async def on_data(self, data: bytes) -> None:
        self.core.receive_data(data)
        await self._run_events()

    async def on_timeout(self) -> None:
        self.end = "timeout"
        self.closed = True
        await self.conn.write(replies.TIMEOUT.to_bytes())

    async def on_eof(self) -> None:
        self.closed = True

    async def on_shutdown(self) -> None:
        """Server stop: the connection just closes, as it always has; let go for a newcomer: say so."""
        self.closed = True
        if self.conn.is_shed:
            self.end = "shed"
            await self.conn.write(replies.TOO_MANY_CONNECTIONS.to_bytes())

    @property
    def phase(self) -> Phase:
        """Where the peer is in its input, for its deadline (``net/shell.py``): POP3 has only lines."""
        return Phase.COMMAND if self.core.partial_input else Phase.IDLE

    def finish(self) -> None:
        """Release the maildrop and log the session: always called once, however it ended."""
        self._release_maildrop()
        retrieved = len(self.maildrop.retrieved) if self.maildrop else 0
        SESSIONS.inc(end=self.end)
        RETRIEVED.inc(self.retr_count)
        RETRIEVED_BYTES.inc(self.retr_octets)
        log_event(log, "info", "pop3 session", session=self.session_id, ip=self.conn.peer[0],
                  user=self.account.address if self.account else None, retrieved=retrieved,
                  deleted=self.deleted, end=self.end, **self.tally.fields(self.conn.bytes_in, self.conn.bytes_out))

    # dispatch
    async def _run_events(self) -> None:
        while not self.closed:
            event = self.core.next_event()
            if event is core.NEED_DATA:
                break
            if event is core.CLOSED:
                self.closed = True
                break
            await self._handle(event)
        await self.flush()

    async def _handle(self, event: core.Event) -> None:
        self.tally.commands += 1
        try:
            if isinstance(event, core.Invalid):
                self.login.abort_sasl()
                raise ProtocolError(event.reply)
            if isinstance(event, core.SaslResponse):
                result = await self.login.sasl_response(event)
            else:
                assert isinstance(event, core.Command)
                result = await self._handlers[event.verb](event)
        except ProtocolError as exc:
            assert isinstance(exc.reply, Reply)
            result = exc.reply
        except (StoreError, StoreUnavailable) as exc:  # RFC 3206 4: SYS/TEMP, a temporary system failure
            log_event(log, "warning", "store failure", session=self.session_id, error=str(exc))
            result = replies.STORE_FAILED
        if isinstance(result, Reply):
            self.queue(result)
        elif result is not None:
            self._out.append(result)

    def push(self, data: bytes) -> None:
        """Queue raw protocol bytes (a SASL "+ " challenge) behind the replies already queued."""
        self._out.append(data)

    def queue(self, reply: Reply) -> None:
        self._out.append(reply.to_bytes())
        if reply.fault:
            self.errors += 1
            ERRORS.inc()
            if self.errors >= self.settings.max_command_errors and not self.closed:
                self._out.append(replies.TOO_MANY_ERRORS.to_bytes())
                self.end = "errors"
                self._close()

    def _close(self) -> None:
        self.core.close()
        self.closed = True

    async def flush(self) -> None:
        if self._out:
            data, self._out = b"".join(self._out), []
            await self.conn.write(data)

    # AUTHORIZATION state (USER, PASS and AUTH: login.py)
    async def _apop(self, _cmd: core.Command) -> Reply:
        return replies.APOP_REFUSED  # no timestamp in our greeting: RFC 1939 7 makes APOP optional

    async def _stls(self, _cmd: core.Command) -> None:
        """RFC 2595 4: "+OK", then the TLS handshake; what the client said before it is forgotten."""
        if self.conn.is_tls or self.services.tls is None:
            raise ProtocolError(replies.ALREADY_TLS)
        if self.utf8:
            raise ProtocolError(replies.STLS_AFTER_UTF8)
        self.queue(replies.STLS)
        await self.flush()
        dropped = self.core.start_tls() + await self.conn.start_tls(self.services.tls.context)
        if dropped:
            log_event(log, "warning", "bytes pipelined after STLS discarded", session=self.session_id,
                      ip=self.conn.peer[0], octets=dropped)
        self.login.forget()

    async def _utf8(self, _cmd: core.Command) -> Reply:
        # RFC 6856 2.1: in UTF-8 mode messages go out as stored (the store keeps them as received).
        self.utf8 = True
        return replies.UTF8

    async def _capa(self, _cmd: core.Command) -> bytes:
        lines = capabilities(
            tls=self.conn.is_tls, can_stls=self.services.tls is not None, authenticated=self.maildrop is not None,
            expire_days=self.account.pop3_delete_after_days if self.account else None,
            login_delay=self.settings.login_delay,
        )
        return core.multiline(replies.CAPA, lines)

    async def _quit(self, _cmd: core.Command) -> Reply:
        self.end = "quit"
        self._close()
        if self.maildrop is None:
            return replies.BYE.format(host=self.settings.hostname)
        reply = await self._update(self.maildrop)
        self._release_maildrop()  # before the +OK: a client that logs in again at once finds it free
        return reply

    def _release_maildrop(self) -> None:
        """Once (after that, another session of the same user may hold the lock): at QUIT once the
        deletes are done, RFC 1939 6, or when the session ends otherwise."""
        if self.account is not None and self.maildrop is not None and not self._maildrop_released:
            self.services.locks.release(self.account.id)
            self._maildrop_released = True

    async def _update(self, maildrop: Maildrop) -> Reply:
        """RFC 1939 6: remove the messages marked deleted (and those due by policy), then "+OK"."""
        assert self.account is not None
        plan = maildrop.plan(self.account.pop3_delete_after_days, self.store.now())
        try:
            if plan.mark_seen:
                await self.store.store_flags(maildrop.mailbox.id, plan.mark_seen, "add", ["\\Seen"])
            removed = await self.store.expunge(maildrop.mailbox.id, plan.expunge) if plan.expunge else []
        except StoreError as exc:
            log_event(log, "error", "pop3 update failed", session=self.session_id, error=str(exc))
            return replies.NOT_REMOVED
        self.deleted = len(removed)
        DELETED.inc(len(removed))
        return replies.QUIT_UPDATED.format(host=self.settings.hostname, deleted=len(removed))

    # TRANSACTION state
    def _drop(self) -> Maildrop:
        assert self.maildrop is not None  # the core's state table admits these commands only after login
        return self.maildrop

    async def _stat(self, _cmd: core.Command) -> Reply:
        count, size = self._drop().stat()
        return replies.STAT.format(count=count, size=size)

    async def _list(self, cmd: core.Command) -> Reply | bytes:
        maildrop = self._drop()
        if cmd.args:
            drop = maildrop.get(_number(cmd))
            return replies.ok(f"{drop.number} {drop.size}")
        count, size = maildrop.stat()
        return core.multiline(replies.LIST.format(count=count, size=size),
                              (f"{d.number} {d.size}" for d in maildrop.live()))

    async def _uidl(self, cmd: core.Command) -> Reply | bytes:
        maildrop = self._drop()
        if cmd.args:
            drop = maildrop.get(_number(cmd))
            return replies.ok(f"{drop.number} {maildrop.unique_id(drop)}")
        return core.multiline(replies.UIDL, (f"{d.number} {maildrop.unique_id(d)}" for d in maildrop.live()))

    async def _retr(self, cmd: core.Command) -> None:
        maildrop = self._drop()
        drop = maildrop.get(_number(cmd))
        data = self._deliverable(await self.bodies.take(maildrop, drop))
        await self._send_body(replies.RETR.format(size=len(data)), data)
        maildrop.retrieved.add(drop.number)
        self.retr_count += 1
        self.retr_octets += len(data)

    async def _top(self, cmd: core.Command) -> None:
        number, lines = cmd.args
        assert isinstance(number, int) and isinstance(lines, int)
        maildrop = self._drop()
        data = self._deliverable(await self.bodies.take(maildrop, maildrop.get(number)))
        await self._send_body(replies.TOP, core.top_of(data, lines))

    def _deliverable(self, data: bytes) -> bytes:
        """RFC 6856 2.1: outside UTF-8 mode a message with UTF-8 header fields MUST NOT be sent as it is.
        Refusing it (-ERR [UTF8]) meant legacy clients never got it, so RETR and TOP send the same RFC 6857
        surrogate (``mime.downgrade``: a 7-bit header section). LIST, STAT and UIDL still describe the
        stored message: its size may differ from the copy's by what the encoding adds (RFC 1939 11 and
        RFC 6856 2.1 allow an approximate LIST size); RETR's "+OK" gives the exact octets sent."""
        return data if self.utf8 else downgrade(data)

    async def _send_body(self, first: Reply, data: bytes) -> None:
        """The replies still queued, ``first`` and the body, in order and in as few writes as possible."""
        self.queue(first)
        head, self._out = b"".join(self._out), []
        for chunk in core.stuff_message(data, head=head):
            await self.conn.write(chunk)

    async def _dele(self, cmd: core.Command) -> Reply:
        number = _number(cmd)
        self._drop().delete(number)
        return replies.DELE.format(number=number)

    async def _noop(self, _cmd: core.Command) -> Reply:
        return replies.NOOP

    async def _rset(self, _cmd: core.Command) -> Reply:
        maildrop = self._drop()
        maildrop.reset()
        count, size = maildrop.stat()
        return replies.RSET.format(count=count, size=size)

    # called by login.py once an account is authenticated
    async def open_maildrop(self, account: Account) -> Reply:
        """Lock and snapshot INBOX (RFC 1939 4); the session enters TRANSACTION state."""
        locks = self.services.locks
        if await locks.too_soon(account.id, self.settings.login_delay):
            raise ProtocolError(replies.LOGIN_DELAY)
        if not await locks.acquire(account.id):
            raise ProtocolError(replies.IN_USE)
        self.conn.logged_in(account.address)  # never refused: the lock allows one session per user
        try:
            mailbox = await self.store.get_mailbox(account.id, "INBOX")
            if mailbox is None:
                raise ProtocolError(replies.NO_INBOX)
            entries = await self.store.list_messages(mailbox.id)
        except BaseException:
            locks.release(account.id)
            raise
        self.account, self.maildrop = account, Maildrop.snapshot(mailbox, entries)
        self.core.authenticated()
        count, size = self.maildrop.stat()
        return replies.LOGGED_IN.format(count=count, size=size)


def _number(cmd: core.Command) -> int:
    value: Any = cmd.args[0]
    assert isinstance(value, int)
    return value
