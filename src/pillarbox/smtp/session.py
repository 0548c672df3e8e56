"""One SMTP session: the core's events in, the rules of RFC 5321 and of our roles applied, replies out.

The sans-IO core (``server_protocol``) frames bytes into events; this module decides. It runs in
``net.shell.run_shell``: every chunk of input is fed to the core, every complete event handled in
order, and the replies of one pipelined group written in one go (RFC 2920) before the next read.
Handlers return the Reply to send or raise ``ProtocolError(reply)``; nothing else is written ad hoc,
except the three points where the conversation must turn at once: the 220 before a TLS handshake,
a 334 challenge, and the 221 before closing.
"""

from __future__ import annotations

import secrets
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pillarbox.antispam.greylist import Greylist
from pillarbox.antispam.screening import ConnectionScreen, ScreenVerdict
from pillarbox.auth import sasl
from pillarbox.auth.authenticator import Authenticator, LoginRefused, SaslContinue, SaslExchange, SaslSuccess
from pillarbox.auth.directory import Directory
from pillarbox.errors import ProtocolError, StoreUnavailable
from pillarbox.imap import urlauth
from pillarbox.mime.headers import HeaderExcess, HeaderLimits, header_excess
from pillarbox.net.listener import Connection
from pillarbox.net.shell import DEFAULT_MIN_RATE, DEFAULT_TRANSFER_TIMEOUT, Deadlines, Phase
from pillarbox.net.spool import Spool, SpoolArea, SpoolError
from pillarbox.net.tls import TLSContextHolder
from pillarbox.obs import Counter, get_logger, log_event
from pillarbox.policy.inbound import Action, SenderCheck
from pillarbox.smtp import deliver_by, future_release, replies
from pillarbox.smtp import server_protocol as core
from pillarbox.smtp.accept import MessageAcceptor
from pillarbox.smtp.envelope import Role, Transaction, check_sender, resolve_recipient
from pillarbox.smtp.refusals import log_refusal
from pillarbox.smtp.replies import Reply
from pillarbox.store.records import Account, new_queue_id
from pillarbox.store.reserve import is_disk_full

log = get_logger("smtp")
_HEADER_REFUSALS = {HeaderExcess.BYTES: replies.HEADER_TOO_BIG, HeaderExcess.LINES: replies.HEADER_TOO_MANY_LINES}
CONNECTIONS = Counter("pillarbox_smtp_connections_total", "SMTP connections accepted", ("role",))
COMMAND_ERRORS = Counter("pillarbox_smtp_command_errors_total", "SMTP commands refused with 5xx/4xx", ("role",))


@dataclass(frozen=True)
class SMTPSettings:
    hostname: str
    max_message_size: int
    max_recipients: int
    max_command_errors: int
    timeout: float
    line_limit: int
    transfer_timeout: float = DEFAULT_TRANSFER_TIMEOUT
    min_transfer_rate: float = DEFAULT_MIN_RATE
    header_limits: HeaderLimits = field(default_factory=HeaderLimits)

    @property
    def deadlines(self) -> Deadlines:
        return Deadlines(self.timeout, self.transfer_timeout, self.min_transfer_rate)


@dataclass(frozen=True)
class SMTPServices:
    settings: SMTPSettings
    directory: Directory
    authenticator: Authenticator
    acceptor: MessageAcceptor
    tls: TLSContextHolder
    spool: SpoolArea
    screen: ConnectionScreen | None = None
    """Port 25 only: pregreet and DNS lists before the greeting (``antispam/screening.py``)."""
    greylist: Greylist | None = None


class SMTPSession:
    def __init__(self, conn: Connection, services: SMTPServices, role: Role) -> None:
        self.conn = conn
        self.services = services
        self.settings = services.settings
        self.role = role
        self.core = core.SMTPServerProtocol(
            line_limit=self.settings.line_limit, max_message_size=self.settings.max_message_size
        )
        self.closed = False
        self.idle_timeout = self.settings.timeout
        self.session_id = secrets.token_hex(6)
        self.helo: str | None = None
        self.esmtp = False
        self.user: Account | None = None
        self.transaction: Transaction | None = None
        self.sender_check: SenderCheck | None = None
        self.sasl: SaslExchange | None = None
        self.errors = 0
        self.screened: ScreenVerdict | None = None
        self.refusal: Reply | None = None
        """Set when the session was refused at the greeting: every command but QUIT gets 503 (RFC 5321 3.1)."""
        self._out: list[bytes] = []

    # shell interface
    async def greet(self) -> None:
        CONNECTIONS.inc(role=self.role.value)
        screen = self.services.screen
        if self.role.is_submission or screen is None:
            await self.conn.write(self.core.send(replies.SERVICE_READY.format(host=self.settings.hostname)))
            return
        self.screened = verdict = await screen.screen(self.conn)
        if not verdict.refused:
            await self.conn.write(self.core.send(replies.SERVICE_READY.format(host=self.settings.hostname)))
            return
        ip = self.conn.peer[0]
        refusal = replies.PREGREET if verdict.early else replies.CLIENT_BLOCKED
        self.refusal = refusal.format(ip=ip, lists=", ".join(verdict.lists))
        await self.conn.write(self.core.send(self.refusal))
        if verdict.early:
            await self.on_data(verdict.early)

    async def on_data(self, data: bytes) -> None:
        self.core.receive_data(data)
        await self._run_events()

    async def on_timeout(self) -> None:
        await self.conn.write(self.core.send(replies.TIMEOUT))
        self.closed = True

    async def on_shutdown(self) -> None:
        farewell = replies.TOO_MANY_CONNECTIONS if self.conn.is_shed else replies.SHUTTING_DOWN
        await self.conn.write(self.core.send(farewell))
        self.closed = True

    def finish(self) -> None:
        """The connection is over, however it ended: a transaction in progress lets its body go."""
        self._drop_transaction()

    @property
    def phase(self) -> Phase:
        """Where the peer is in its input, for its deadline (``net/shell.py``)."""
        if self.core.receiving_content:
            return Phase.TRANSFER
        return Phase.COMMAND if self.core.partial_input else Phase.IDLE

    async def on_eof(self) -> None:
        self.core.receive_data(b"")
        await self._run_events()

    async def _run_events(self) -> None:
        while not self.closed:
            event = self.core.next_event()
            if isinstance(event, core.Sentinel):
                break
            detail = ""
            handler = _HANDLERS[type(event)] if self.refusal is None else SMTPSession._refused
            try:
                reply = await handler(self, event)
            except ProtocolError as exc:
                assert isinstance(exc.reply, Reply)
                reply, detail = exc.reply, exc.detail
            except (OSError, ssl.SSLError) as exc:
                if not is_disk_full(exc):
                    raise  # the peer went away or broke TLS: the listener ends the connection quietly
                reply = self._abandon(replies.INSUFFICIENT_STORAGE)
            except StoreUnavailable as exc:  # nothing of the transaction was acknowledged: 451 4.3.0
                log_event(log, "warning", "store unavailable", session=self.session_id, client=self.conn.peer[0],
                          error=str(exc))
                reply = self._abandon(replies.TEMP_FAILURE)
            except Exception:
                log.exception("smtp: internal error handling %s", type(event).__name__,
                              extra={"fields": {"session": self.session_id, "client": self.conn.peer[0]}})
                reply = self._abandon(replies.TEMP_FAILURE)
            if reply is not None:
                self._queue(reply)
                if reply.code >= 400 and self.refusal is None:  # a refused session was logged once, at the greeting
                    log_refusal(event, reply, detail, session=self.session_id, role=self.role.value,
                                client=self.conn.peer[0], user=self.user.address if self.user else None)
        await self._flush()

    async def _refused(self, event: core.Event) -> Reply | None:
        """A session refused at the greeting (RFC 5321 3.1): wait for QUIT, 503 to anything else."""
        if isinstance(event, core.Quit | core.ConnectionClosed):
            return await _HANDLERS[type(event)](self, event)
        if self.core.state in (core.State.DATA_PENDING, core.State.AUTH_PENDING, core.State.TLS_PENDING):
            self.core.resume()
        return replies.BAD_SEQUENCE

    def _abandon(self, reply: Reply) -> Reply:
        """A bug or a full disk must cost the client one transaction (4xx, retry later), not the connection."""
        if self.core.state in (core.State.DATA_PENDING, core.State.AUTH_PENDING, core.State.TLS_PENDING):
            self.core.resume()
        self._drop_transaction()
        self.sasl = None
        return reply

    def _queue(self, reply: Reply) -> None:
        self._out.append(self.core.send(reply))
        if reply.code >= 500 or reply.code in (452, 454):
            self._count_error()

    def _count_error(self) -> None:
        self.errors += 1
        COMMAND_ERRORS.inc(role=self.role.value)
        if self.errors >= self.settings.max_command_errors and not self.closed:
            self._out.append(self.core.send(replies.TOO_MANY_ERRORS))
            self.core.close()
            self.closed = True

    async def _flush(self) -> None:
        if self._out:
            data, self._out = b"".join(self._out), []
            await self.conn.write(data)

    # greeting commands
    async def _ehlo(self, event: core.Ehlo) -> Reply:
        self._reset(event.domain, esmtp=True)
        return replies.ehlo_reply(f"{self.settings.hostname} greets {event.domain}", self._extensions())

    async def _helo(self, event: core.Helo) -> Reply:
        self._reset(event.domain, esmtp=False)
        return replies.HELO_OK.format(host=self.settings.hostname)

    def _reset(self, helo: str, esmtp: bool) -> None:
        self.helo, self.esmtp = helo, esmtp
        self._drop_transaction()

    def _drop_transaction(self) -> None:
        if self.transaction is not None:
            self.transaction.close()
            self.transaction = None

    def _extensions(self) -> list[str]:
        keywords = ["PIPELINING", f"SIZE {self.settings.max_message_size}", "8BITMIME", "SMTPUTF8",
                    "ENHANCEDSTATUSCODES", "CHUNKING", "BINARYMIME", "DSN",
                    f"LIMITS RCPTMAX={self.settings.max_recipients}",  # RFC 9422: what 452 4.5.3 enforces
                    "MT-PRIORITY",  # RFC 6710: no priority profile named, -9..9 order the queue
                    deliver_by.EHLO_KEYWORD]  # RFC 2852
        if not self.conn.is_tls:
            keywords.append("STARTTLS")
        else:
            keywords.append("REQUIRETLS")  # RFC 8689 2: only after TLS (and honoured on the way out)
        if self.role.is_submission and self.conn.is_tls and self.user is None:
            keywords.append("AUTH " + " ".join(sasl.mechanisms_for(tls=True)))
        if self.role.is_submission:
            keywords.append(future_release.ehlo_keyword(self.services.acceptor.store.now()))
            keywords.append("BURL imap")  # RFC 4468 3: imap URLs with URLAUTH for this user
        keywords.append("HELP")
        return keywords

    # the transaction
    async def _mail(self, event: core.Mail) -> Reply:
        if self.helo is None or self.transaction is not None or self.sasl is not None:
            raise ProtocolError(replies.BAD_SEQUENCE)
        mail = event.args
        if mail.requiretls and not self.conn.is_tls:
            raise ProtocolError(replies.REQUIRETLS_WITHOUT_TLS)
        if not self.role.is_submission and {"HOLDFOR", "HOLDUNTIL"} & set(mail.params):
            raise ProtocolError(replies.PARAM_NOT_RECOGNIZED)  # RFC 4865: offered to submission only
        now = self.services.acceptor.store.now()
        release = future_release.release_time(mail, now)  # refused now, not after DATA
        deadline = deliver_by.deadline(mail, now)
        if release is not None and deadline is not None and deadline.returns and deadline.at <= release.timestamp():
            raise ProtocolError(replies.PARAM_SYNTAX.with_text("BY with mode R ends before the release time"))
        if mail.size is not None and mail.size > self.settings.max_message_size:
            raise ProtocolError(replies.SIZE_EXCEEDED)
        if not self.services.acceptor.store.has_room(mail.size or 0):
            raise ProtocolError(replies.INSUFFICIENT_STORAGE)  # RFC 1870 6.1: 452 for a temporary lack of room
        await check_sender(self.services.directory, self.role, mail, self.user)
        await self._sending_limit(None)
        self.sender_check = await self._check_spf(mail.address)
        self.transaction = Transaction(mail)
        return replies.SENDER_OK

    async def _check_spf(self, address: str | None) -> SenderCheck | None:
        """MX role only: SPF at MAIL FROM (RFC 7208 2.4); a DNS temporary error is answered 451 now."""
        policy = self.services.acceptor.policy
        if self.role.is_submission or policy is None:
            return None
        check = await policy.check_sender(self.conn.peer[0], self.helo or "", address)
        if check.decision.action is Action.TEMPFAIL:
            raise ProtocolError(replies.SPF_TEMP_FAILURE.format(domain=check.spf.domain))
        return check

    async def _rcpt(self, event: core.Rcpt) -> Reply:
        if self.transaction is None:
            raise ProtocolError(replies.BAD_SEQUENCE)
        if len(self.transaction.recipients) >= self.settings.max_recipients:
            raise ProtocolError(replies.TOO_MANY_RECIPIENTS)
        recipient = await resolve_recipient(self.services.directory, self.role, event.args,
                                            self.services.acceptor.srs_original)
        await self.services.acceptor.check_quota(recipient.accounts, self.transaction.mail.size or 0)
        await self._greylist(recipient.address)
        await self._sending_limit(len(self.transaction.recipients))
        self.transaction.recipients.append(recipient)
        return replies.RECIPIENT_OK

    async def _sending_limit(self, recipients: int | None) -> None:
        """Submission: the account's hourly limits, checked for the message (``recipients`` None, at
        MAIL FROM) or for one more recipient (``antispam/sending.py``)."""
        limits, user = self.services.acceptor.sending, self.user
        if limits is None or user is None:
            return
        if recipients is None:
            reached = await limits.check_message(user)
        else:
            reached = await limits.check_recipient(user, recipients)
        if reached is not None and reached.what == "held":
            raise ProtocolError(replies.ACCOUNT_HELD, f"{user.address} is held")
        if reached is not None:
            raise ProtocolError(replies.SENDING_LIMIT.format(limit=reached.limit, what=reached.what))

    async def _greylist(self, recipient: str) -> None:
        """MX role, clients not vouched for: RFC 6647 greylisting of (network, sender, recipient)."""
        greylist, screened = self.services.greylist, self.screened
        if self.role.is_submission or greylist is None or (screened is not None and screened.trusted):
            return
        assert self.transaction is not None
        if await greylist.defer(self.conn.peer[0], self.transaction.sender, recipient):
            raise ProtocolError(replies.GREYLISTED.format(seconds=greylist.settings.greylist_delay))

    async def _data(self, _event: core.Data) -> Reply:
        transaction = self.transaction
        if transaction is None or transaction.mail.body == "BINARYMIME" or transaction.body is not None:
            self.core.resume()
            raise ProtocolError(replies.BAD_SEQUENCE)
        if not transaction.recipients:
            self.core.resume()
            raise ProtocolError(replies.NO_VALID_RECIPIENTS)
        self.core.start_data()
        transaction.body = self.services.spool.open()
        return replies.START_MAIL_INPUT

    async def _content(self, event: core.Content) -> None:
        body = self._body()
        if body is not None:
            body.write(event.data)

    def _body(self) -> Spool | None:
        """Where content goes: the transaction's body (BDAT starts one), or nowhere when there is
        no transaction to take it (the core still reads it, RFC 3030 2)."""
        transaction = self.transaction
        if transaction is None or not transaction.recipients:
            return None
        if transaction.body is None:
            transaction.body = self.services.spool.open()
        return transaction.body

    async def _message(self, event: core.MessageComplete) -> Reply:
        await self._content(core.Content(event.tail))
        return await self._accept()

    async def _rejected(self, event: core.MessageRejected) -> Reply:
        self._log_transaction(event.size, event.reply)
        self._drop_transaction()
        return event.reply

    async def _bdat(self, event: core.BdatChunk) -> Reply:
        body = self._body()
        if body is None:
            return replies.BAD_SEQUENCE if self.transaction is None else replies.NO_VALID_RECIPIENTS
        body.write(event.tail)
        if not event.last:
            return replies.CHUNK_OK.format(size=event.size)
        return await self._accept()

    async def _burl(self, event: core.Burl) -> Reply:
        """RFC 4468: a chunk fetched by URL (URLAUTH ``submit+`` this user, RFC 4467); a failure ends the
        transaction as a refused BDAT chunk does."""
        if not self.role.is_submission or self.user is None:
            return replies.BAD_SEQUENCE
        body = self._body()
        if body is None:
            return replies.BAD_SEQUENCE if self.transaction is None else replies.NO_VALID_RECIPIENTS
        try:
            octets = await urlauth.fetch(self.services.acceptor.store, event.url, self.user.address,
                                         submission=True, now=self.services.acceptor.store.now())
        except urlauth.URLAuthError as exc:
            return self._refuse_chunk(body.size, replies.BURL_FAILED.with_text(f"IMAP URL resolution failed: {exc}"))
        if body.size + len(octets) > self.settings.max_message_size:
            return self._refuse_chunk(body.size + len(octets), replies.SIZE_EXCEEDED)
        body.write(octets)
        if not event.last:
            return replies.CHUNK_OK.format(size=len(octets))
        return await self._accept()

    def _refuse_chunk(self, size: int, reply: Reply) -> Reply:
        self._log_transaction(size, reply)
        self._drop_transaction()
        return reply

    async def _chunk_rejected(self, event: core.ChunkRejected) -> Reply:
        if self.transaction is not None:
            self._log_transaction(event.size, event.reply)
            self._drop_transaction()
        return event.reply

    async def _accept(self) -> Reply:
        transaction = self.transaction
        assert transaction is not None and transaction.body is not None
        body, self.transaction = transaction.body, None
        queue_id = new_queue_id()
        try:
            async with body.contents() as content:  # memory for it is budgeted (net/spool.py)
                excess = header_excess(content, self.settings.header_limits)
                if excess is not None:  # refused before any reader (ours, DKIM's) goes through the header
                    reply = _HEADER_REFUSALS[excess]
                    self._log_transaction(body.size, reply, transaction)
                    return reply
                reply = await self.services.acceptor.accept(
                    content, transaction, self._trace_context(queue_id), queue_id, self.user, self.sender_check
                )
        except ProtocolError as refused:  # e.g. the From: rule: still one line for the transaction
            assert isinstance(refused.reply, Reply)
            self._log_transaction(body.size, refused.reply, transaction)
            raise
        except SpoolError as exc:
            log_event(log, "error", "message not kept", session=self.session_id, error=str(exc))
            reply = replies.INSUFFICIENT_STORAGE
        finally:
            transaction.close()
        self._log_transaction(body.size, reply, transaction, queue_id)
        return reply

    def _trace_context(self, queue_id: str) -> dict[str, Any]:
        return {"helo": self.helo or "", "client_ip": self.conn.peer[0], "tls": self.conn.tls_info,
                "authenticated": self.user is not None, "esmtp": self.esmtp}

    def _log_transaction(
        self, size: int, reply: Reply, transaction: Transaction | None = None, queue_id: str | None = None
    ) -> None:
        transaction = transaction or self.transaction
        log_event(
            log, "info", "transaction", session=self.session_id, queue_id=queue_id, role=self.role.value,
            client=self.conn.peer[0], helo=self.helo, tls=(self.conn.tls_info or {}).get("version"),
            user=self.user.address if self.user else None,
            sender=transaction.sender if transaction else None,
            recipients=",".join(r.address for r in transaction.recipients) if transaction else None,
            size=size, result=f"{reply.code} {reply.enhanced or ''}".strip(),
            **_verdict_fields(transaction),
        )

    # simple commands
    async def _rset(self, _event: core.Rset) -> Reply:
        self._drop_transaction()
        return replies.RESET_OK

    async def _noop(self, _event: core.Noop) -> Reply:
        return replies.OK

    async def _quit(self, _event: core.Quit) -> None:
        self._out.append(self.core.send(replies.CLOSING))
        await self._flush()
        self.closed = True

    async def _vrfy(self, _event: core.Vrfy) -> Reply:
        return replies.VRFY_DISABLED  # RFC 5321 3.5.3: answer 252 without disclosing users

    async def _expn(self, _event: core.Expn) -> Reply:
        return replies.NOT_IMPLEMENTED

    async def _help(self, _event: core.Help) -> Reply:
        return replies.HELP

    async def _invalid(self, event: core.Invalid) -> Reply:
        return event.reply

    async def _connection_closed(self, _event: core.ConnectionClosed) -> None:
        if self.transaction is not None:
            log_event(log, "info", "connection lost mid-transaction", session=self.session_id,
                      client=self.conn.peer[0])
        self.closed = True

    # STARTTLS (RFC 3207)
    async def _starttls(self, _event: core.StartTls) -> Reply | None:
        if self.conn.is_tls:
            self.core.resume()
            raise ProtocolError(replies.BAD_SEQUENCE)
        self._out.append(self.core.send(replies.TLS_READY))
        await self._flush()
        discarded = self.core.start_tls()  # CVE-2011-0411: never run commands sent before the handshake
        discarded += await self.conn.start_tls(self.services.tls.context)
        if discarded:
            log_event(log, "warning", "discarded commands pipelined after STARTTLS", session=self.session_id,
                      client=self.conn.peer[0], octets=discarded)
        self.core.reset_after_starttls()
        # RFC 3207 4.2: forget everything learned before TLS, the client must EHLO again
        self._drop_transaction()
        self.helo, self.esmtp, self.user = None, False, None
        return None

    # AUTH (RFC 4954)
    async def _auth(self, event: core.Auth) -> Reply | None:
        reply = self._auth_precondition()
        if reply is not None:
            self.core.resume()
            raise ProtocolError(reply)
        exchange = self.services.authenticator.start_sasl("smtp", self.conn.peer[0], event.mechanism,
                                                          secure=self.conn.is_tls)
        if exchange is None:
            self.core.resume()
            raise ProtocolError(replies.AUTH_MECH_UNKNOWN)
        self.sasl = exchange
        initial = event.initial_response
        return await self._sasl_step(lambda: exchange.start(
            sasl.decode_response(initial, initial=True) if initial is not None else None))

    def _auth_precondition(self) -> Reply | None:
        if not self.role.is_submission:
            return replies.NOT_IMPLEMENTED
        if not self.conn.is_tls:
            return replies.ENCRYPTION_REQUIRED
        if self.helo is None or not self.esmtp or self.user is not None or self.transaction is not None:
            return replies.BAD_SEQUENCE
        return None

    async def _auth_response(self, event: core.AuthResponse) -> Reply | None:
        exchange = self.sasl
        assert exchange is not None
        if self._final_data_sent:
            return await self._sasl_step(lambda: self._pending_success())
        return await self._sasl_step(lambda: exchange.step(sasl.decode_response(event.response)))

    async def _auth_cancelled(self, event: core.AuthCancelled) -> Reply:
        self.sasl = None
        self._final_data_sent = False
        return event.reply

    _final_data_sent = False
    _success: SaslSuccess | None = None

    async def _pending_success(self) -> SaslSuccess:
        assert self._success is not None
        return self._success

    async def _sasl_step(self, advance: Callable[[], Awaitable[SaslContinue | SaslSuccess]]) -> Reply | None:
        try:
            outcome = await advance()
        except LoginRefused:  # a locked-out client too: it must not learn that its guesses go unchecked
            return self._end_sasl(replies.AUTH_FAILED)
        except sasl.SASLError:
            return self._end_sasl(replies.AUTH_CANCELLED.with_text("Invalid SASL data"))
        if isinstance(outcome, SaslContinue):
            self.core.expect_auth_response()
            return replies.auth_challenge(sasl.encode_challenge(outcome.challenge))
        if outcome.additional_data is not None and not self._final_data_sent:
            # RFC 4954 4: server-final data travels in one more 334; its empty answer precedes 235
            self._final_data_sent, self._success = True, outcome
            self.core.expect_auth_response()
            return replies.auth_challenge(sasl.encode_challenge(outcome.additional_data))
        self.user = outcome.account
        self.conn.logged_in(outcome.account.address)  # never refused: SMTP counts per address only
        return self._end_sasl(replies.AUTH_SUCCEEDED)

    def _end_sasl(self, reply: Reply) -> Reply:
        self.sasl, self._final_data_sent, self._success = None, False, None
        if self.core.state is core.State.AUTH_PENDING:
            self.core.resume()
        return reply


_HANDLERS: dict[type, Callable[[SMTPSession, Any], Awaitable[Reply | None]]] = {
    core.Ehlo: SMTPSession._ehlo, core.Helo: SMTPSession._helo, core.Mail: SMTPSession._mail,
    core.Rcpt: SMTPSession._rcpt, core.Data: SMTPSession._data, core.Content: SMTPSession._content,
    core.MessageComplete: SMTPSession._message, core.MessageRejected: SMTPSession._rejected,
    core.BdatChunk: SMTPSession._bdat, core.ChunkRejected: SMTPSession._chunk_rejected,
    core.Rset: SMTPSession._rset, core.Burl: SMTPSession._burl, core.Noop: SMTPSession._noop,
    core.Quit: SMTPSession._quit, core.Vrfy: SMTPSession._vrfy, core.Expn: SMTPSession._expn,
    core.Help: SMTPSession._help, core.StartTls: SMTPSession._starttls, core.Auth: SMTPSession._auth,
    core.AuthResponse: SMTPSession._auth_response, core.AuthCancelled: SMTPSession._auth_cancelled,
    core.Invalid: SMTPSession._invalid, core.ConnectionClosed: SMTPSession._connection_closed,
}
"""The handler of each event of the core: one table for every session, not built per connection."""


def _verdict_fields(transaction: Transaction | None) -> dict[str, str | None]:
    if transaction is None:
        return {}
    fields = transaction.spam.log_fields() if transaction.spam is not None else {}
    if transaction.verdict is not None:
        action, reason = transaction.verdict
        fields.update(auth=action, auth_reason=reason)
    return fields
