"""The events the sans-IO SMTP server core yields (``server_protocol``); one frozen dataclass each."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pillarbox.smtp.grammar import MailFrom, RcptTo
from pillarbox.smtp.replies import Reply


class State(enum.Enum):
    COMMAND = "command"
    DATA_PENDING = "data-pending"  # DATA read; waiting for the session: start_data() or resume()
    DATA = "data"
    BDAT = "bdat"
    AUTH_PENDING = "auth-pending"  # AUTH or a response read; expect_auth_response() or resume()
    AUTH_RESPONSE = "auth-response"
    TLS_PENDING = "tls-pending"  # STARTTLS read; start_tls() or resume()
    TLS = "tls"  # handshake under way; reset_after_starttls()
    CLOSED = "closed"


class Event:
    """Base of everything ``next_event`` returns besides the sentinels."""


@dataclass(frozen=True)
class Ehlo(Event):
    domain: str


@dataclass(frozen=True)
class Helo(Event):
    domain: str


@dataclass(frozen=True)
class Mail(Event):
    args: MailFrom


@dataclass(frozen=True)
class Rcpt(Event):
    args: RcptTo


@dataclass(frozen=True)
class Data(Event):
    """DATA: the core is paused; answer 354 and call ``start_data()``, or refuse and ``resume()``."""


@dataclass(frozen=True)
class Rset(Event):
    pass


@dataclass(frozen=True)
class Noop(Event):
    pass


@dataclass(frozen=True)
class Quit(Event):
    """QUIT: the core is closed; answer 221 and close the connection."""


@dataclass(frozen=True)
class Vrfy(Event):
    argument: str


@dataclass(frozen=True)
class Expn(Event):
    argument: str


@dataclass(frozen=True)
class Help(Event):
    argument: str


@dataclass(frozen=True)
class StartTls(Event):
    """STARTTLS: paused; answer 220 and ``start_tls()`` then ``reset_after_starttls()``, or ``resume()``."""


@dataclass(frozen=True)
class Auth(Event):
    """AUTH mech [initial-response]; ``initial_response`` is the raw base64 text (b"=" is empty)."""

    mechanism: str
    initial_response: bytes | None


@dataclass(frozen=True)
class AuthResponse(Event):
    """One raw (base64) SASL response line, without its CRLF."""

    response: bytes


@dataclass(frozen=True)
class AuthCancelled(Event):
    """The client sent "*" (RFC 4954 4) or an overlong response: the exchange is over."""

    reply: Reply


@dataclass(frozen=True)
class Content(Event):
    """A piece of the message (DATA dot-unstuffed, or BDAT chunk octets) as it arrives; more follows.

    The core keeps none of it: the session decides where it goes (``net/spool.py``)."""

    data: bytes


@dataclass(frozen=True)
class MessageComplete(Event):
    """The end of DATA: ``tail`` is the last piece of the content (after any ``Content`` events; all
    of it when none came), dot-unstuffed, with the final CRLF; the core is back in command mode."""

    tail: bytes


@dataclass(frozen=True)
class MessageRejected(Event):
    """DATA was read to its end but refused (bare CR/LF, size); send ``reply``."""

    reply: Reply
    size: int


@dataclass(frozen=True)
class BdatChunk(Event):
    """The end of a BDAT chunk (RFC 3030 2): ``tail`` is its last piece (after any ``Content``
    events), ``size`` the chunk's octets in all."""

    tail: bytes
    last: bool
    size: int


@dataclass(frozen=True)
class Burl(Event):
    """RFC 4468 ``burl-cmd = "BURL" SP absolute-URI [SP end-marker]``: a chunk the server fetches itself."""

    url: str
    last: bool


@dataclass(frozen=True)
class ChunkRejected(Event):
    """A BDAT chunk read and discarded because the transaction passed ``max_message_size``."""

    reply: Reply
    size: int
    last: bool


@dataclass(frozen=True)
class Invalid(Event):
    """A line that is not a valid command (500/501/553/555...) or too long (500 5.5.6)."""

    reply: Reply
    line: bytes = b""


@dataclass(frozen=True)
class ConnectionClosed(Event):
    """The peer closed the connection (``receive_data(b"")``) while the core was in ``state``."""

    state: State
