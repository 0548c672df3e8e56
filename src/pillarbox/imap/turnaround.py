"""The commands that turn the conversation around: STARTTLS, AUTHENTICATE, IDLE and COMPRESS.

After each of them what the client sends next is not a command (a TLS handshake, a SASL response,
"DONE", a deflate stream), so the framer pauses and the session decides how to go on:

- STARTTLS: the plaintext pipelined behind the command is dropped (CVE-2011-0411 class);
- AUTHENTICATE: SASL challenges until the exchange is done, then framing resumes;
- IDLE: a task woken by the change feed pushes updates until the client sends DONE;
- COMPRESS=DEFLATE (RFC 4978): after the tagged OK, both directions are raw deflate streams
  (zlib wbits -15). Bytes that arrived behind the command are already compressed: they are taken
  from the framer and inflated. Outgoing data is flushed with Z_SYNC_FLUSH at every write so the
  client can decode each response as soon as it arrives (RFC 4978 4).
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pillarbox.auth import sasl
from pillarbox.auth.authenticator import LoginRefused, SaslContinue, SaslExchange, SaslSuccess
from pillarbox.errors import StoreUnavailable
from pillarbox.imap import response as r
from pillarbox.imap.parser.commands import Authenticate, Command, Compress
from pillarbox.obs import get_logger, log_event

if TYPE_CHECKING:
    from pillarbox.imap.session import IMAPSession

log = get_logger("imap")
MAX_INFLATE_CHUNK = 1 << 20  # inflate at most this much per call: a deflate bomb cannot blow up memory


class InflateLimit(Exception):
    """One read inflated to more than the session allows: a deflate bomb, not IMAP."""


class Deflate:
    """Both directions of a COMPRESS=DEFLATE connection (RFC 4978 4: raw deflate, no zlib header)."""

    def __init__(self, limit: int) -> None:
        self._out = zlib.compressobj(6, zlib.DEFLATED, -15)
        self._in = zlib.decompressobj(-15)
        self._limit = limit

    def compress(self, data: bytes) -> bytes:
        return self._out.compress(data) + self._out.flush(zlib.Z_SYNC_FLUSH)

    def decompress(self, data: bytes) -> Iterator[bytes]:
        """Inflate ``data`` in pieces of at most ``MAX_INFLATE_CHUNK`` (the caller takes each before
        the next is made); more than ``limit`` octets from one read is refused."""
        piece = self._in.decompress(data, MAX_INFLATE_CHUNK)
        total = len(piece)
        yield piece
        while self._in.unconsumed_tail:
            piece = self._in.decompress(self._in.unconsumed_tail, MAX_INFLATE_CHUNK)
            total += len(piece)
            if total > self._limit:
                raise InflateLimit(f"more than {self._limit} octets inflated from one read")
            yield piece


async def starttls(session: IMAPSession, command: Command) -> r.TaggedReply | None:
    if session.conn.is_tls:
        session.resume_framing()
        return r.bad(command.tag, "TLS is already active")
    session.send(r.ok(command.tag, "Begin TLS negotiation now").to_bytes())
    await session.flush()
    discarded = len(session.framer.take_buffered())
    discarded += await session.conn.start_tls(session.services.tls.context)
    if discarded:
        log_event(
            log, "warning", "discarded commands pipelined after STARTTLS",
            session=session.session_id, client=session.conn.peer[0], octets=discarded,
        )
    session.framer.resume()
    return None


async def compress(session: IMAPSession, command: Compress) -> r.TaggedReply | None:
    """RFC 4978 3: only DEFLATE, only once; the OK goes out uncompressed, everything after deflated."""
    if command.mechanism != "DEFLATE":
        session.resume_framing()
        return r.bad(command.tag, "Unknown compression mechanism")
    if session.deflate is not None:
        session.resume_framing()
        return r.bad(command.tag, "Compression is already active")
    session.send(r.ok(command.tag, "DEFLATE active").to_bytes())
    await session.flush()
    session.deflate = Deflate(limit=2 * session.settings.max_literal + MAX_INFLATE_CHUNK)
    pending = session.framer.take_buffered()
    session.framer.resume()
    if pending:
        await session.on_data(pending)  # compressed already: inflated (or refused) like any later read
    return None


# -- AUTHENTICATE -------------------------------------------------------------------------------------


@dataclass
class SaslTurn:
    """One AUTHENTICATE under way; ``success`` is set while SCRAM's server-final data awaits its answer."""

    tag: str
    exchange: SaslExchange
    success: SaslSuccess | None = None


async def authenticate(session: IMAPSession, command: Authenticate) -> r.TaggedReply | None:
    if not session.conn.is_tls:
        # Principle 8, RFC 9051 6.2.2 (note) and 7.1 PRIVACYREQUIRED: no mechanism at all before TLS,
        # whatever it sends in clear and whoever connects (loopback included): CAPABILITY lists no AUTH=
        session.resume_framing()
        return r.no(command.tag, r.PRIVACYREQUIRED, "Authentication is disabled before STARTTLS")
    exchange = session.services.authenticator.start_sasl("imap", session.conn.peer[0], command.mechanism,
                                                         secure=True)
    if exchange is None:
        session.resume_framing()
        return r.no(command.tag, None, f"Unsupported mechanism {command.mechanism}")
    session.sasl = SaslTurn(command.tag, exchange)
    initial = command.initial_response
    try:
        decoded = sasl.decode_response(initial, initial=True) if initial is not None else None
    except sasl.SASLError:
        return end_sasl(session, r.bad(command.tag, "Invalid base64"))
    return await _sasl_step(session, exchange.start(decoded))


async def raw_line(session: IMAPSession, line: bytes) -> None:
    """A line read while the framer was told to expect one: "DONE" after IDLE or a SASL response."""
    if session.idle_task is not None:
        await end_idle(session, line)
        return
    if session.sasl is None:
        session.resume_framing()
        return
    turn = session.sasl
    if line.strip() == b"*":
        session.reply(end_sasl(session, r.bad(turn.tag, "Authentication cancelled")))
        return
    if turn.success is not None:  # the answer to the server-final data must be empty (RFC 4422 3.6)
        reply = _logged_in(session, turn.success) if not line.strip() else r.bad(turn.tag, "Invalid SASL exchange")
        session.reply(end_sasl(session, reply))
        return
    try:
        decoded = sasl.decode_response(line)
    except sasl.SASLError:
        session.reply(end_sasl(session, r.bad(turn.tag, "Invalid base64")))
        return
    reply = await _sasl_step(session, turn.exchange.step(decoded))
    if reply is not None:
        session.reply(reply)


async def _sasl_step(session: IMAPSession, advance: Awaitable[Any]) -> r.TaggedReply | None:
    assert session.sasl is not None
    turn = session.sasl
    try:
        outcome = await advance
    except LoginRefused:  # a locked-out client too: it must not learn that its guesses go unchecked
        return end_sasl(session, r.no(turn.tag, r.AUTHENTICATIONFAILED, "Authentication failed"))
    except sasl.SASLError:
        return end_sasl(session, r.bad(turn.tag, "Invalid SASL exchange"))
    if isinstance(outcome, SaslContinue):
        return _challenge(session, outcome.challenge)
    if outcome.additional_data is not None:
        # IMAP's tagged OK cannot carry SASL data, so SCRAM's server-final message ("v=", which proves
        # the server knew the password) goes as one more challenge, answered with an empty line
        # (RFC 4422 3.6 and 5; what SMTP and POP3 do too)
        turn.success = outcome
        return _challenge(session, outcome.additional_data)
    return end_sasl(session, _logged_in(session, outcome))


def _challenge(session: IMAPSession, data: bytes) -> None:
    session.send(b"+ " + sasl.encode_challenge(data).encode() + b"\r\n")
    session.framer.expect_line()


def _logged_in(session: IMAPSession, success: SaslSuccess) -> r.TaggedReply:
    assert session.sasl is not None
    return session.complete_login(success.account, session.sasl.tag)


def end_sasl(session: IMAPSession, reply: r.TaggedReply) -> r.TaggedReply:
    session.sasl = None
    session.resume_framing()
    return reply


# -- IDLE (RFC 2177, RFC 9051 6.3.13) -------------------------------------------------------------------

IDLE_RETRY = 1.0  # seconds before an idling session reads the change log again after a store failure


@dataclass
class IdleTurn:
    """An IDLE in progress: its tag, and the task that pushes updates until DONE."""

    tag: str
    task: asyncio.Task[None] | None = None
    parked: bool = False
    """The task waits for a change and has nothing half written: DONE may cancel it without waiting."""


async def idle(session: IMAPSession, command: Command) -> None:
    session.send(r.continuation("idling"))
    await session.flush()
    turn = session.idle_task = IdleTurn(command.tag)
    turn.task = asyncio.create_task(_push_updates(session, turn))
    session.framer.expect_line()


async def _push_updates(session: IMAPSession, turn: IdleTurn) -> None:
    if session.notify is not None:  # RFC 5465 4: during IDLE exactly NOTIFY's events, which its watch tells
        turn.parked = True
        await asyncio.get_running_loop().create_future()
    view = session.selected
    while view is not None:
        turn.parked = True
        try:
            await session.store.changes.wait({view.id: view.known_modseq}, timeout=None)
        finally:
            turn.parked = False
        try:
            await session.report_changes(allow_expunge=True)
        except StoreUnavailable:  # the store is back soon: the same changes are reported then
            await asyncio.sleep(IDLE_RETRY)
            continue
        await session.flush()


async def end_idle(session: IMAPSession, line: bytes) -> None:
    assert session.idle_task is not None
    tag = session.idle_task.tag
    await stop_idle(session)
    session.resume_framing()
    if line.strip().upper() != b"DONE":
        session.reply(r.bad(tag, "Expected DONE"))
        return
    if session.selected is not None:
        with contextlib.suppress(StoreUnavailable):  # not lost: reported after a later command
            await session.report_changes(allow_expunge=True)
    session.reply(r.ok(tag, "IDLE terminated"))


async def stop_idle(session: IMAPSession) -> None:
    """End the IDLE's task. One parked on the change feed is only cancelled: it writes nothing more,
    also when a change woke it meanwhile (the cancellation comes first), and waiting for it to end
    would hold the tagged OK for two more turns of an event loop that other sessions keep busy."""
    turn, session.idle_task = session.idle_task, None
    if turn is None or turn.task is None:
        return
    turn.task.cancel()
    if turn.parked:
        return
    with contextlib.suppress(asyncio.CancelledError):
        await turn.task
