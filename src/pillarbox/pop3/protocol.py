"""The sans-IO POP3 server core: bytes in, typed commands out; replies and message bodies out as bytes.

The problem: a POP3 server reads one kind of input, CRLF-terminated command lines (RFC 1939 3), plus
SASL responses during AUTH (RFC 5034 4), and its replies are either one status line or a multi-line
block ended by ".", with every line that starts with "." stuffed with one more ".". The naive way,
``readline()`` and ``split()``, trusts the peer: an endless line fills memory, ``int("9" * 5000)``
raises, a "." at the start of a message line ends RETR early (and lets a sender smuggle a fake
"+OK" into a client), and commands pipelined behind STLS would run inside TLS (CVE-2011-0411).

What we do:
* Lines end at LF (a preceding CR is removed; RFC 1939 wants CRLF, clients that send bare LF are
  tolerated). A line longer than ``line_limit`` yields ``Invalid(LINE_TOO_LONG)`` and the rest of it
  is discarded up to its LF, so the stream stays in sync (RFC 2449 4: at least 255 octets).
* Each command is parsed here by its RFC 1939 / 2449 / 2595 / 5034 / 6856 grammar into a ``Command``
  with typed arguments; a message number is 1-10 digits, never a giant int.
* The state table ``ALLOWED`` says which command is valid in which state (habit 2); a command in
  the wrong state is an ``Invalid`` event, so the session sees only commands it may act on.
* After AUTH the session calls ``expect_sasl_response()``: the next line is a ``SaslResponse``, not
  a command. After STLS's "+OK" it calls ``start_tls()``, which drops and counts what was buffered.
* ``stuff_message`` yields a message as a dot-stuffed multi-line body in bounded chunks, ending in
  ".\\r\\n" (RFC 1939 3), so a large message is never copied whole again. The status line rides in
  the first chunk and the terminator in the last: a message that fits one chunk is one write (one
  send, full TLS records). Stuffing is one regex substitution per chunk, not work per line.

Contract: whatever bytes arrive, ``receive_data`` and ``next_event`` raise nothing.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pillarbox.pop3 import replies
from pillarbox.pop3.replies import Reply

DEFAULT_LINE_LIMIT = 4096
CHUNK_SIZE = 64 * 1024
_NUMBER = re.compile(r"[0-9]{1,10}\Z")  # message-number / line count; 10 digits keep ints small
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # CTL octets, refused inside arguments
# A line that starts with "." inside a chunk. The regex engine scans 20 KB in a third of the time
# bytes.replace(b"\n.", ...) takes (two-octet needles get no fast path in CPython 3.11).
_DOT_LINE = re.compile(rb"\n\.")


class State(enum.Enum):
    AUTHORIZATION = "authorization"
    TRANSACTION = "transaction"
    UPDATE = "update"  # QUIT was accepted (or the session ended): nothing more is read


# RFC 1939 4-6, RFC 2449 5 (CAPA in both), RFC 2595 4 (STLS), RFC 5034 4 (AUTH), RFC 6856 2.1 (UTF8)
ALLOWED: dict[State, frozenset[str]] = {
    State.AUTHORIZATION: frozenset({"USER", "PASS", "APOP", "AUTH", "STLS", "UTF8", "CAPA", "QUIT"}),
    State.TRANSACTION: frozenset(
        {"STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "TOP", "UIDL", "CAPA", "QUIT"}
    ),
    State.UPDATE: frozenset(),
}
KNOWN = frozenset().union(*ALLOWED.values())


@dataclass(frozen=True)
class Command:
    """One parsed command. ``args``: ints for message numbers and line counts, str otherwise."""

    verb: str
    args: tuple[int | str, ...] = ()


@dataclass(frozen=True)
class SaslResponse:
    """One line answering a "+ " challenge: base64 text, or "*" to cancel (RFC 5034 4)."""

    line: bytes


@dataclass(frozen=True)
class Invalid:
    """A line we refuse before any session logic: its -ERR reply."""

    reply: Reply


class Sentinel(enum.Enum):
    NEED_DATA = "need data"
    CLOSED = "closed"


NEED_DATA = Sentinel.NEED_DATA
CLOSED = Sentinel.CLOSED
Event = Command | SaslResponse | Invalid | Sentinel


class POP3ServerProtocol:
    def __init__(self, line_limit: int = DEFAULT_LINE_LIMIT) -> None:
        self.line_limit = line_limit
        self.state = State.AUTHORIZATION
        self._buf = bytearray()
        self._discarding = False  # inside a too-long line, dropping bytes up to its LF
        self._sasl = False
        self._eof = False

    # input
    def receive_data(self, data: bytes) -> None:
        """Feed received bytes; ``b""`` means the peer closed its side."""
        if not data:
            self._eof = True
        elif self.state is not State.UPDATE:
            self._buf += data

    @property
    def partial_input(self) -> bool:
        """Part of a line has arrived (or an overlong one is being dropped): the peer owes the rest."""
        return bool(self._buf) or self._discarding

    def next_event(self) -> Event:
        if self.state is State.UPDATE:
            return CLOSED
        line = self._next_line()
        if line is None:
            if self._eof:
                self.state = State.UPDATE
                return CLOSED
            return NEED_DATA
        if isinstance(line, Invalid):
            self._sasl = False
            return line
        if self._sasl:
            self._sasl = False
            return SaslResponse(line.strip())
        return self._command(line)

    def _next_line(self) -> bytes | Invalid | None:
        end = self._buf.find(b"\n")
        if self._discarding:
            if end < 0:
                self._buf.clear()
                return None
            del self._buf[: end + 1]
            self._discarding = False
            end = self._buf.find(b"\n")
        if end < 0:
            if len(self._buf) > self.line_limit:
                self._buf.clear()
                self._discarding = True
                return Invalid(replies.LINE_TOO_LONG)
            return None
        line = bytes(self._buf[:end])
        del self._buf[: end + 1]
        if len(line) + 1 > self.line_limit:
            return Invalid(replies.LINE_TOO_LONG)
        return line[:-1] if line.endswith(b"\r") else line

    def _command(self, line: bytes) -> Command | Invalid:
        verb_bytes, _, rest = line.partition(b" ")
        verb = verb_bytes.decode("ascii", "replace").upper()
        if verb not in KNOWN:
            return Invalid(replies.UNKNOWN_COMMAND)
        if verb not in ALLOWED[self.state]:
            return Invalid(replies.WRONG_STATE)
        try:
            text = rest.decode("utf-8")  # RFC 6856: arguments may be UTF-8
        except UnicodeDecodeError:
            return Invalid(replies.NOT_UTF8)
        if _CONTROL.search(text):
            return Invalid(replies.SYNTAX_ERROR)
        return parse_arguments(verb, text)

    # session decisions
    def expect_sasl_response(self) -> None:
        """The reply just queued was a "+ " challenge: the next line answers it."""
        self._sasl = True

    def authenticated(self) -> None:
        self.state = State.TRANSACTION

    def start_tls(self) -> int:
        """Drop what the peer pipelined after STLS (it came in plaintext); return how many octets."""
        dropped = len(self._buf)
        self._buf.clear()
        self._discarding = False
        return dropped

    def close(self) -> None:
        """QUIT answered or the session ends: ignore whatever follows."""
        self.state = State.UPDATE
        self._buf.clear()


# -- command grammar ----------------------------------------------------------------------------

_NO_ARGS = frozenset({"STAT", "NOOP", "RSET", "QUIT", "CAPA", "STLS", "UTF8"})
# how many numbers each numeric command takes: LIST [msg], UIDL [msg], RETR msg, DELE msg, TOP msg n
_ARITY = {"LIST": (0, 1), "UIDL": (0, 1), "RETR": (1,), "DELE": (1,), "TOP": (2,)}


def parse_arguments(verb: str, text: str) -> Command | Invalid:
    """The arguments of ``verb`` from the text after its space (RFC 1939 3: single SP separators)."""
    if verb in ("USER", "PASS"):
        # PASS takes the rest of the line: a password may contain spaces (RFC 1939 7, PASS discussion).
        return Command(verb, (text,)) if text else Invalid(replies.SYNTAX_ERROR)
    words = text.split(" ") if text else []
    if verb in _NO_ARGS:
        return Command(verb) if not words else Invalid(replies.SYNTAX_ERROR)
    if verb == "AUTH":
        return Command(verb, tuple(words)) if len(words) <= 2 and all(words) else Invalid(replies.SYNTAX_ERROR)
    if verb == "APOP":
        return Command(verb, tuple(words))  # refused whatever it carries
    numbers = _numbers(words)
    if numbers is None:
        return Invalid(replies.INVALID_NUMBER)
    if len(numbers) not in _ARITY[verb]:
        return Invalid(replies.SYNTAX_ERROR)
    return Command(verb, tuple(numbers))


def _numbers(words: list[str]) -> list[int] | None:
    if not all(_NUMBER.match(word) for word in words):
        return None
    return [int(word) for word in words]


# -- output -------------------------------------------------------------------------------------


def multiline(first: Reply, lines: Iterable[str | bytes]) -> bytes:
    """A "+OK" line, the body lines (dot-stuffed), and the "." terminator (RFC 1939 3)."""
    out = [first.to_bytes()]
    for line in lines:
        raw = line.encode("utf-8") if isinstance(line, str) else line
        out.append((b"." + raw if raw.startswith(b".") else raw) + b"\r\n")
    out.append(b".\r\n")
    return b"".join(out)


def stuff_message(data: bytes, chunk_size: int = CHUNK_SIZE, head: bytes = b"") -> Iterator[bytes]:
    """``head`` (the status line), then ``data`` as a multi-line body: dot-stuffed, ending in CRLF "."
    CRLF, in chunks of about ``chunk_size`` cut at line ends (so a chunk always starts a line)."""
    start, total = 0, len(data)
    parts = [head]
    while True:
        cut = data.find(b"\n", min(start + chunk_size, total) - 1)
        end = total if cut < 0 else cut + 1
        chunk = data[start:end]  # the whole message is not copied: slicing all of a bytes returns it
        if chunk.startswith(b"."):
            parts.append(b".")  # the line starts the chunk: the substitution below cannot see its LF
        parts.append(_DOT_LINE.sub(b"\n..", chunk))  # no dot line: the same object, no copy
        if end == total:
            break
        yield b"".join(parts)
        parts, start = [], end
    parts.append(b".\r\n" if total == 0 or data.endswith(b"\n") else b"\r\n.\r\n")
    yield b"".join(parts)


def unstuff(sent: bytes) -> bytes:
    """The client's side of ``stuff_message`` (for tests and the load tool): the body it carries."""
    assert sent.endswith(b".\r\n")
    body = sent[:-3]
    lines = body.split(b"\n")
    return b"\n".join(line[1:] if line.startswith(b".") else line for line in lines)


def top_of(data: bytes, lines: int) -> bytes:
    """The header, the empty line after it and the first ``lines`` body lines (RFC 1939 7, TOP)."""
    end = _header_end(data)
    for _ in range(lines):
        if end >= len(data):
            break
        newline = data.find(b"\n", end)
        end = len(data) if newline < 0 else newline + 1
    return data[:end]


def _header_end(data: bytes) -> int:
    """Offset just past the empty line that ends the header (the whole message if there is none)."""
    if data.startswith((b"\r\n", b"\n")):
        return data.find(b"\n") + 1
    ends = [found + len(sep) for sep in (b"\n\r\n", b"\n\n") if (found := data.find(sep)) >= 0]
    return min(ends, default=len(data))
