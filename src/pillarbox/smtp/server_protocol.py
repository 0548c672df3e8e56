"""The sans-IO SMTP server core: bytes in, typed events out; replies out as bytes.

The problem: an SMTP server reads three kinds of input from one stream: command lines, message
content (DATA, dot-stuffed, ended by <CRLF>.<CRLF>) and binary chunks (BDAT, counted), plus SASL
responses during AUTH. Which kind comes next depends on what the *server* answered, and a client may
pipeline (RFC 2920) several commands in one packet. The naive way, reading lines and switching mode
on the verb, smuggles: a lenient end-of-data rule ("\\n.\\n") lets a second message hide inside the
first (SMTP smuggling, 2023), and a STARTTLS line followed by plaintext commands in the same packet
lets those commands run inside the TLS session (CVE-2011-0411).

What we do:
* Command lines end at LF (a preceding CR is removed; bare LF is tolerated at command level), and a
  line longer than ``line_limit`` yields ``Invalid(LINE_TOO_LONG)`` and is discarded up to its end
  (RFC 5321 4.5.3.1.4, 4.5.3.1.6; AUTH lines may be ``auth_line_limit`` long, RFC 4954 4).
* DATA ends only at <CRLF>.<CRLF> (4.1.1.4); the start of DATA counts as following a CRLF. Any bare
  CR or LF inside refuses the message at its true end (``MessageRejected(BARE_LINE_ENDING)``), so
  the stream stays in sync. Dot-unstuffing per 4.5.2. Beyond ``max_message_size`` the content is
  still read to its end but discarded (``MessageRejected(SIZE_EXCEEDED)``).
* BDAT <size> [LAST] is followed by exactly ``size`` octets whatever the reply will be (RFC 3030 2),
  so the core reads them on its own and yields one ``BdatChunk`` (or ``ChunkRejected`` when the
  transaction's chunks exceed ``max_message_size``).
* The core holds no message: content is handed over as it arrives, in ``Content`` events, and the
  last piece rides in ``MessageComplete``/``BdatChunk`` (a message that arrives in one read is one
  event). The session decides where it goes: memory for the first part, then a spool file.
* After DATA, AUTH and STARTTLS the core *pauses* (``next_event()`` returns ``PAUSED``) until the
  session decides: ``start_data()`` after 354, ``expect_auth_response()`` after 334, ``start_tls()``
  after 220 (which drops and counts the bytes pipelined behind STARTTLS), or ``resume()`` when it
  refused. QUIT closes the core; bytes after it are ignored.

How the session drives it (h11 style)::

    core.receive_data(data)            # b"" means the peer closed the connection
    while True:
        event = core.next_event()
        if event is NEED_DATA or event is PAUSED or event is CLOSED: break
        ... handle event, possibly core.start_data() / resume() / ..., collect replies ...
    send(b"".join(core.send(reply) for reply in replies))

Contract: whatever bytes arrive, ``receive_data`` and ``next_event`` raise nothing; peer errors are
``Invalid``/``MessageRejected``/... events carrying the Reply to send. Calling a session method in the
wrong state is a programming error and raises ``StateError``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from typing import ClassVar

from pillarbox.errors import ProtocolError
from pillarbox.smtp import grammar, replies
from pillarbox.smtp.events import (  # the core's vocabulary, re-exported for its users
    Auth,
    AuthCancelled,
    AuthResponse,
    BdatChunk,
    Burl,
    ChunkRejected,
    ConnectionClosed,
    Content,
    Data,
    Ehlo,
    Event,
    Expn,
    Helo,
    Help,
    Invalid,
    Mail,
    MessageComplete,
    MessageRejected,
    Noop,
    Quit,
    Rcpt,
    Rset,
    StartTls,
    State,
    Vrfy,
)
from pillarbox.smtp.replies import Reply

DEFAULT_LINE_LIMIT = 4096
DEFAULT_AUTH_LINE_LIMIT = 12288  # RFC 4954 4
DEFAULT_MAX_MESSAGE_SIZE = 25 * 1024 * 1024
_PARTIAL_FLUSH = 8192  # DATA: flush a line without LF once this much of it is buffered
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Trigger(enum.Enum):
    # from the peer's bytes
    COMMAND = "command"
    DATA_COMMAND = "data-command"
    BDAT_COMMAND = "bdat-command"
    AUTH_COMMAND = "auth-command"
    STARTTLS_COMMAND = "starttls-command"
    QUIT_COMMAND = "quit-command"
    END_OF_DATA = "end-of-data"
    END_OF_CHUNK = "end-of-chunk"
    AUTH_LINE = "auth-line"
    AUTH_ABORT = "auth-abort"
    EOF = "eof"
    # from the session
    START_DATA = "start-data"
    EXPECT_AUTH_RESPONSE = "expect-auth-response"
    START_TLS = "start-tls"
    RESUME = "resume"
    RESET_AFTER_TLS = "reset-after-tls"
    CLOSE = "close"


S, T = State, Trigger
TRANSITIONS: dict[tuple[State, Trigger], State] = {
    (S.COMMAND, T.COMMAND): S.COMMAND,
    (S.COMMAND, T.DATA_COMMAND): S.DATA_PENDING,
    (S.COMMAND, T.BDAT_COMMAND): S.BDAT,
    (S.COMMAND, T.AUTH_COMMAND): S.AUTH_PENDING,
    (S.COMMAND, T.STARTTLS_COMMAND): S.TLS_PENDING,
    (S.COMMAND, T.QUIT_COMMAND): S.CLOSED,
    (S.DATA_PENDING, T.START_DATA): S.DATA,
    (S.DATA_PENDING, T.RESUME): S.COMMAND,
    (S.DATA, T.END_OF_DATA): S.COMMAND,
    (S.BDAT, T.END_OF_CHUNK): S.COMMAND,
    (S.AUTH_PENDING, T.EXPECT_AUTH_RESPONSE): S.AUTH_RESPONSE,
    (S.AUTH_PENDING, T.RESUME): S.COMMAND,
    (S.AUTH_RESPONSE, T.AUTH_LINE): S.AUTH_PENDING,
    (S.AUTH_RESPONSE, T.AUTH_ABORT): S.COMMAND,
    (S.TLS_PENDING, T.START_TLS): S.TLS,
    (S.TLS_PENDING, T.RESUME): S.COMMAND,
    (S.TLS, T.RESET_AFTER_TLS): S.COMMAND,
    **{(state, T.CLOSE): S.CLOSED for state in State},
    **{(state, T.EOF): S.CLOSED for state in State if state is not S.CLOSED},
}
del S, T


class StateError(RuntimeError):
    """The session called a core method in a state where it makes no sense (a bug, not peer input)."""


class Sentinel(enum.Enum):
    NEED_DATA = "need-data"  # feed more bytes
    PAUSED = "paused"  # the session must decide (start_data/expect_auth_response/start_tls/resume)
    CLOSED = "closed"  # nothing more will come


NEED_DATA, PAUSED, CLOSED = Sentinel.NEED_DATA, Sentinel.PAUSED, Sentinel.CLOSED


Result = Event | Sentinel


class _TooLong:
    """Marker returned by ``_next_line`` for a line over the limit (already being discarded)."""


_TOO_LONG = _TooLong()
_CHUNK_FOLLOWS = Event()  # what _cmd_bdat returns; never leaves the core


class SMTPServerProtocol:
    """The framing state machine of one SMTP server connection (see the module essay)."""

    def __init__(
        self,
        *,
        line_limit: int = DEFAULT_LINE_LIMIT,
        auth_line_limit: int = DEFAULT_AUTH_LINE_LIMIT,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    ) -> None:
        self.line_limit = line_limit
        self.auth_line_limit = auth_line_limit
        self.max_message_size = max_message_size
        self.state = State.COMMAND
        self._buf = bytearray()
        self._eof = False
        self._discarding = False  # inside an overlong line, dropping bytes up to its LF
        self._scanned = 0  # bytes of _buf already searched for LF without success
        self.smtputf8 = False  # the transaction's MAIL had SMTPUTF8; the session may set it too
        self._bdat_total = 0
        self._reset_content()

    # -- input ---------------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes from the peer; ``b""`` means end of stream."""
        if self.state is State.CLOSED:
            return
        if not data:
            self._eof = True
        self._buf += data

    @property
    def has_buffered_input(self) -> bool:
        """More pipelined input is waiting (RFC 2920: the session may hold its replies back)."""
        return bool(self._buf) and not self._discarding

    @property
    def receiving_content(self) -> bool:
        """Inside DATA content or a BDAT chunk (the peer's deadline grows with the octets it sends)."""
        return self.state is State.DATA or self.state is State.BDAT

    @property
    def partial_input(self) -> bool:
        """Part of a line has arrived (or an overlong one is being dropped): the peer owes the rest."""
        return bool(self._buf) or self._discarding

    def next_event(self) -> Result:
        """The next event, or NEED_DATA / PAUSED / CLOSED. Never raises on peer input."""
        handler = self._handlers[self.state]
        result = handler(self)
        if result is NEED_DATA and self._eof:
            before = self.state
            self._move(Trigger.EOF)
            return ConnectionClosed(before)
        return result

    # -- session decisions ----------------------------------------------------------------------

    def start_data(self) -> None:
        """The session answered DATA with 354: what follows is message content."""
        self._move(Trigger.START_DATA)

    def expect_auth_response(self) -> None:
        """The session sent a 334 challenge: the next line is a SASL response."""
        self._move(Trigger.EXPECT_AUTH_RESPONSE)

    def start_tls(self) -> int:
        """The session answered STARTTLS with 220: drop pipelined plaintext (CVE-2011-0411), count it."""
        self._move(Trigger.START_TLS)
        dropped = len(self._buf)
        self._buf.clear()
        self._scanned = 0
        return dropped

    def reset_after_starttls(self) -> None:
        """TLS is up: forget everything, as after connection (RFC 3207 4.2)."""
        self._move(Trigger.RESET_AFTER_TLS)
        self._buf.clear()
        self._scanned = 0
        self._discarding = False
        self._end_transaction()

    def resume(self) -> None:
        """The session refused DATA / STARTTLS or ended an AUTH exchange: back to commands."""
        self._move(Trigger.RESUME)

    def close(self) -> None:
        self._move(Trigger.CLOSE)
        self._buf.clear()

    def send(self, reply: Reply) -> bytes:
        """The bytes of ``reply`` (kept here so a shell needs only the core)."""
        return reply.to_bytes()

    def _move(self, trigger: Trigger) -> None:
        try:
            self.state = TRANSITIONS[self.state, trigger]
        except KeyError:
            raise StateError(f"{trigger.value} is not allowed in state {self.state.value}") from None

    # -- command lines ----------------------------------------------------------------------------

    def _next_line(self, limit: int) -> bytes | _TooLong | None:
        """One line up to and including its LF, ``_TOO_LONG`` or None (need more)."""
        buf = self._buf
        if self._discarding:
            end = buf.find(b"\n")
            if end < 0:
                buf.clear()
                return None
            del buf[: end + 1]
            self._discarding = False
        end = buf.find(b"\n", self._scanned, limit)
        if end >= 0:
            line = bytes(buf[: end + 1])
            del buf[: end + 1]
            self._scanned = 0
            return line
        if len(buf) < limit:
            self._scanned = len(buf)
            return None
        self._drop_overlong_line(limit)
        return _TOO_LONG

    def _drop_overlong_line(self, limit: int) -> None:
        end = self._buf.find(b"\n", limit)
        if end >= 0:
            del self._buf[: end + 1]
        else:
            self._buf.clear()
            self._discarding = True
        self._scanned = 0

    def _command_limit(self) -> int:
        return self.auth_line_limit if self._buf[:5].upper() == b"AUTH " else self.line_limit

    def _on_command(self) -> Result:
        line = self._next_line(self._command_limit())
        if line is None:
            return NEED_DATA
        if isinstance(line, _TooLong):
            return Invalid(replies.LINE_TOO_LONG)
        event, trigger = self._parse_command(line)
        self._move(trigger)
        if trigger is Trigger.QUIT_COMMAND:
            self._buf.clear()
        if trigger is Trigger.BDAT_COMMAND:
            return self._on_bdat()
        return event

    def _parse_command(self, raw: bytes) -> tuple[Event, Trigger]:
        line = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            return Invalid(replies.SYNTAX_ERROR.with_text("Invalid UTF-8 in command"), line[:128]), Trigger.COMMAND
        text = text.rstrip(" ")
        if _CONTROL.search(text):
            return Invalid(replies.SYNTAX_ERROR.with_text("Control character in command"), line[:128]), Trigger.COMMAND
        verb, _, argument = text.partition(" ")
        parser = _COMMANDS.get(verb.upper()) if verb.isascii() else None
        if parser is None:
            return Invalid(replies.SYNTAX_ERROR, line[:128]), Trigger.COMMAND
        try:
            return parser(self, argument)
        except ProtocolError as error:
            assert isinstance(error.reply, Reply)
            return Invalid(error.reply, line[:128]), Trigger.COMMAND

    # -- one parser per verb: (self, argument) -> (event, trigger); may raise ProtocolError ----------

    def _cmd_ehlo(self, argument: str) -> tuple[Event, Trigger]:
        """ehlo = "EHLO" SP ( Domain / address-literal ) CRLF (4.1.1.1); resets the transaction."""
        self._end_transaction()
        return Ehlo(grammar.parse_helo_domain(argument)), Trigger.COMMAND

    def _cmd_helo(self, argument: str) -> tuple[Event, Trigger]:
        """helo = "HELO" SP Domain CRLF"""
        self._end_transaction()
        return Helo(grammar.parse_helo_domain(argument)), Trigger.COMMAND

    def _cmd_mail(self, argument: str) -> tuple[Event, Trigger]:
        """mail = "MAIL FROM:" Reverse-path [SP Mail-parameters] CRLF (4.1.1.2)"""
        mail = grammar.parse_mail(argument)
        self._end_transaction()
        self.smtputf8 = mail.smtputf8
        return Mail(mail), Trigger.COMMAND

    def _cmd_rcpt(self, argument: str) -> tuple[Event, Trigger]:
        """rcpt = "RCPT TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" / Forward-path ) ... (4.1.1.3)"""
        return Rcpt(grammar.parse_rcpt(argument, smtputf8=self.smtputf8)), Trigger.COMMAND

    def _cmd_data(self, argument: str) -> tuple[Event, Trigger]:
        """data = "DATA" CRLF (4.1.1.4)"""
        _no_argument(argument)
        self._reset_content()
        return Data(), Trigger.DATA_COMMAND

    def _cmd_bdat(self, argument: str) -> tuple[Event, Trigger]:
        """bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] CRLF ; chunk-size = 1*DIGIT ;
        end-marker = "LAST" (RFC 3030 2)"""
        words = argument.split(" ")
        if not (1 <= len(words) <= 2 and words[0].isascii() and words[0].isdigit() and len(words[0]) <= 20):
            raise ProtocolError(replies.PARAM_SYNTAX.with_text("Syntax: BDAT <size> [LAST]"))
        if len(words) == 2 and words[1].upper() != "LAST":
            raise ProtocolError(replies.PARAM_SYNTAX.with_text("Syntax: BDAT <size> [LAST]"))
        size = int(words[0])
        self._reset_content()
        self._chunk_remaining, self._chunk_last, self._chunk_size = size, len(words) == 2, size
        self._bdat_total += size
        self._too_big = self._bdat_total > self.max_message_size
        return _CHUNK_FOLLOWS, Trigger.BDAT_COMMAND  # the event is BdatChunk, once the chunk is read

    def _cmd_burl(self, argument: str) -> tuple[Event, Trigger]:
        """burl-cmd = "BURL" SP absolute-URI [SP end-marker] CRLF ; end-marker = "LAST" (RFC 4468 3)"""
        words = argument.split(" ")
        if not 1 <= len(words) <= 2 or not words[0] or (len(words) == 2 and words[1].upper() != "LAST"):
            raise ProtocolError(replies.PARAM_SYNTAX.with_text("Syntax: BURL <url> [LAST]"))
        return Burl(words[0], len(words) == 2), Trigger.COMMAND

    def _cmd_rset(self, argument: str) -> tuple[Event, Trigger]:
        """rset = "RSET" CRLF (4.1.1.5)"""
        _no_argument(argument)
        self._end_transaction()
        return Rset(), Trigger.COMMAND

    def _cmd_vrfy(self, argument: str) -> tuple[Event, Trigger]:
        """vrfy = "VRFY" SP String CRLF (4.1.1.6)"""
        return Vrfy(_required(argument)), Trigger.COMMAND

    def _cmd_expn(self, argument: str) -> tuple[Event, Trigger]:
        """expn = "EXPN" SP String CRLF (4.1.1.7)"""
        return Expn(_required(argument)), Trigger.COMMAND

    def _cmd_help(self, argument: str) -> tuple[Event, Trigger]:
        """help = "HELP" [ SP String ] CRLF (4.1.1.8)"""
        return Help(argument), Trigger.COMMAND

    def _cmd_noop(self, argument: str) -> tuple[Event, Trigger]:
        """noop = "NOOP" [ SP String ] CRLF (4.1.1.9)"""
        return Noop(), Trigger.COMMAND

    def _cmd_quit(self, argument: str) -> tuple[Event, Trigger]:
        """quit = "QUIT" CRLF (4.1.1.10)"""
        _no_argument(argument)
        return Quit(), Trigger.QUIT_COMMAND

    def _cmd_starttls(self, argument: str) -> tuple[Event, Trigger]:
        """STARTTLS with no parameters (RFC 3207 4)"""
        _no_argument(argument)
        return StartTls(), Trigger.STARTTLS_COMMAND

    def _cmd_auth(self, argument: str) -> tuple[Event, Trigger]:
        """ "AUTH" SP sasl-mech [SP initial-response] ; initial-response = base64 / "=" (RFC 4954 4)"""
        words = argument.split(" ")
        if not 1 <= len(words) <= 2 or not _SASL_MECH.fullmatch(words[0]):
            raise ProtocolError(replies.PARAM_SYNTAX.with_text("Syntax: AUTH <mechanism> [initial-response]"))
        initial = words[1].encode("ascii", "replace") if len(words) == 2 else None
        return Auth(words[0].upper(), initial), Trigger.AUTH_COMMAND

    # -- AUTH responses ---------------------------------------------------------------------------

    def _on_auth_response(self) -> Result:
        line = self._next_line(self.auth_line_limit)
        if line is None:
            return NEED_DATA
        if isinstance(line, _TooLong):
            self._move(Trigger.AUTH_ABORT)
            return AuthCancelled(replies.LINE_TOO_LONG.with_text("Authentication response too long"))
        response = line.rstrip(b"\n").removesuffix(b"\r")
        if response == b"*":
            self._move(Trigger.AUTH_ABORT)
            return AuthCancelled(replies.AUTH_CANCELLED)
        self._move(Trigger.AUTH_LINE)
        return AuthResponse(response)

    # -- BDAT chunks --------------------------------------------------------------------------------

    def _on_bdat(self) -> Result:
        take = min(self._chunk_remaining, len(self._buf))
        piece = b"" if self._too_big else bytes(self._buf[:take])
        del self._buf[:take]
        self._chunk_remaining -= take
        if self._chunk_remaining:
            return Content(piece) if piece else NEED_DATA
        self._move(Trigger.END_OF_CHUNK)
        last, size, too_big = self._chunk_last, self._chunk_size, self._too_big
        self._reset_content()
        if last:
            self._end_transaction()
        if too_big:
            return ChunkRejected(replies.SIZE_EXCEEDED, size, last)
        return BdatChunk(piece, last, size)

    # -- DATA content -------------------------------------------------------------------------------

    def _on_data(self) -> Result:
        buf = self._buf
        last_lf = buf.rfind(b"\n")
        region = bytes(buf[: last_lf + 1])
        end = self._find_end_of_data(region)
        if end is not None:
            tail = self._take_content(region[:end])
            del buf[: end + 3]
            return self._finish_data(tail)
        del buf[: last_lf + 1]
        piece = self._take_content(region) + self._flush_partial_line()
        return Content(piece) if piece else NEED_DATA

    def _find_end_of_data(self, region: bytes) -> int | None:
        """Where the "." of <CRLF>.<CRLF> starts; a region starts at a line start iff ``_line_start``."""
        if self._line_start and region.startswith(b".\r\n"):
            return 0
        found = region.find(b"\r\n.\r\n")
        return found + 2 if found >= 0 else None

    def _flush_partial_line(self) -> bytes:
        """Take a long line without LF so far, keeping a final CR (it may start a CRLF)."""
        if len(self._buf) < _PARTIAL_FLUSH:
            return b""
        keep = 1 if self._buf.endswith(b"\r") else 0
        piece = bytes(self._buf[: len(self._buf) - keep])
        del self._buf[: len(piece)]
        return self._take_content(piece)

    def _take_content(self, content: bytes) -> bytes:
        """Check for bare CR/LF and unstuff (4.5.2) ``content``; what is left to pass on (nothing once
        the message is too big)."""
        if not content:
            return b""
        if _has_bare_cr_or_lf(content):
            self._bare_line_ending = True
        unstuffed = content[1:] if self._line_start and content.startswith(b".") else content
        unstuffed = unstuffed.replace(b"\r\n.", b"\r\n")
        self._line_start = content.endswith(b"\r\n")
        self._size += len(unstuffed)
        if self._too_big or self._size > self.max_message_size:
            self._too_big = True
            return b""
        return unstuffed

    def _finish_data(self, tail: bytes) -> Event:
        self._move(Trigger.END_OF_DATA)
        event: Event
        if self._bare_line_ending:
            event = MessageRejected(replies.BARE_LINE_ENDING, self._size)
        elif self._too_big:
            event = MessageRejected(replies.SIZE_EXCEEDED, self._size)
        else:
            event = MessageComplete(tail)
        self._reset_content()
        self._end_transaction()
        return event

    # -- bookkeeping ------------------------------------------------------------------------------

    def _reset_content(self) -> None:
        self._size = 0
        self._too_big = False
        self._bare_line_ending = False
        self._line_start = True  # the start of DATA counts as following a CRLF
        self._chunk_remaining = self._chunk_size = 0
        self._chunk_last = False

    def _end_transaction(self) -> None:
        self.smtputf8 = False
        self._bdat_total = 0

    def _paused(self) -> Result:
        return PAUSED

    def _closed(self) -> Result:
        return CLOSED

    _handlers: ClassVar[dict[State, Callable[[SMTPServerProtocol], Result]]] = {
        State.COMMAND: _on_command,
        State.DATA_PENDING: _paused,
        State.DATA: _on_data,
        State.BDAT: _on_bdat,
        State.AUTH_PENDING: _paused,
        State.AUTH_RESPONSE: _on_auth_response,
        State.TLS_PENDING: _paused,
        State.TLS: _paused,
        State.CLOSED: _closed,
    }


# sasl-mech = 1*20mech-char ; mech-char = UPPER-ALPHA / DIGIT / HYPHEN / UNDERSCORE (RFC 4422 3.1)
_SASL_MECH = re.compile(r"[A-Za-z0-9_-]{1,20}")


def _no_argument(argument: str) -> None:
    if argument:
        raise ProtocolError(replies.PARAM_SYNTAX.with_text("This command takes no arguments"))


def _required(argument: str) -> str:
    if not argument:
        raise ProtocolError(replies.PARAM_SYNTAX.with_text("Argument required"))
    return argument


_COMMANDS = {
    "EHLO": SMTPServerProtocol._cmd_ehlo,
    "HELO": SMTPServerProtocol._cmd_helo,
    "MAIL": SMTPServerProtocol._cmd_mail,
    "RCPT": SMTPServerProtocol._cmd_rcpt,
    "DATA": SMTPServerProtocol._cmd_data,
    "BDAT": SMTPServerProtocol._cmd_bdat,
    "BURL": SMTPServerProtocol._cmd_burl,
    "RSET": SMTPServerProtocol._cmd_rset,
    "VRFY": SMTPServerProtocol._cmd_vrfy,
    "EXPN": SMTPServerProtocol._cmd_expn,
    "HELP": SMTPServerProtocol._cmd_help,
    "NOOP": SMTPServerProtocol._cmd_noop,
    "QUIT": SMTPServerProtocol._cmd_quit,
    "STARTTLS": SMTPServerProtocol._cmd_starttls,
    "AUTH": SMTPServerProtocol._cmd_auth,
}


def _has_bare_cr_or_lf(data: bytes) -> bool:
    """A CR or LF that is not part of a CRLF pair. Three memchr-speed counts instead of a regex
    over every byte of every message: equivalent to ``\r(?!\n)|(?<!\r)\n``."""
    return data.count(b"\r") + data.count(b"\n") != 2 * data.count(b"\r\n")
