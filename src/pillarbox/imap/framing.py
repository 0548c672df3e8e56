"""The sans-IO IMAP command framer: bytes in, whole commands (lines plus literals) out.

The problem: an IMAP command is not a line. ``command = tag SP (...) CRLF`` (RFC 9051 9) may carry
literals, ``literal = "{" number64 ["+"] "}" CRLF *CHAR8``, and a literal's bytes may hold anything,
CRLF included, so the command ends at the first CRLF that does not announce a literal. With a
synchronizing literal ``{n}`` the client waits for the server's "+" continuation (RFC 9051 4.3), so
the server decides, size in hand, whether to take the data; with a non-synchronizing one ``{n+}``
(LITERAL+, RFC 7888) the data follows at once and must be read (or discarded) to stay in step.
``~{n}`` is a literal8 (BINARY, RFC 3516) with the same two forms.

The naive way (read a line, then ``n`` bytes, repeat) trusts ``n``: a peer announces 4 GiB and the
server buffers it. Here every size is checked against limits before anything is read:

* ``max_line``: bytes of command text in one command, literals excluded;
* ``max_literal``: one literal (the APPENDLIMIT);
* ``max_command``: text plus literals of one command;
* ``literal_minus``: LITERAL- (RFC 7888 5): a non-synchronizing literal over 4096 octets is refused.

The session lowers ``max_literal`` and ``max_command`` and sets ``literal_minus`` until the client
logs in, so that a stranger can make the server hold only a few kilobytes.

Nor does the framer hold a large literal itself: once a command's literals would pass
``max_in_memory``, each further literal is handed over as it arrives (``LiteralData`` events) and
left out of ``FramedCommand.raw``; ``FramedCommand.spooled`` says where each goes back, and
``with_literals`` puts them back (the session keeps them in a spool file meanwhile, ``net/spool.py``).

Refusals are events, never exceptions. A refused synchronizing literal gets ``NO [TOOBIG]`` and the
command is dropped: the client sent nothing more of it. A refused non-synchronizing literal is read
and discarded, as is the rest of its command (following lines and non-synchronizing literals), and
reported as ``BAD [TOOBIG]`` as soon as it is seen. An overlong line is reported and skipped up to
its LF. Lines end at LF; a CR before it is dropped.

Modes: after AUTHENTICATE, IDLE, STARTTLS and COMPRESS the framer pauses (``PAUSED``) because what
follows is not a command: the session calls ``expect_line()`` to read one raw line (a SASL response,
"DONE"), ``take_buffered()`` to drop pipelined plaintext after STARTTLS (CVE-2011-0411) or hand it to
the decompressor, or ``resume()``. ``pause()`` stops framing until ``resume()`` at any time.

How the session drives it (h11 style)::

    framer.receive_data(data)               # b"" at end of stream
    while True:
        event = framer.next_command()
        if event is NEED_DATA or event is PAUSED: break
        match event:
            case FramedCommand(): command = parse_command(event) ...; maybe expect_line()/resume()
            case NeedContinuation(): send(continuation()); framer.accept_literal()   # or reject_literal()
            case LiteralData(): keep event.data for the command being framed
            case RawLine(): the SASL response or "DONE"
            case FramingError(): send(event.reply.to_bytes())
            case ConnectionClosed(): break
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from pillarbox.imap.response import TOOBIG, TaggedReply, bad, no

DEFAULT_MAX_LINE = 64 * 1024
DEFAULT_MAX_LITERAL = 50 * 1024 * 1024
DEFAULT_MAX_COMMAND = 64 * 1024 * 1024
DEFAULT_MAX_RAW_LINE = 64 * 1024
DEFAULT_MAX_IN_MEMORY = 64 * 1024
LITERAL_MINUS_MAX = 4096  # RFC 7888 3
PAUSING_COMMANDS = frozenset({b"AUTHENTICATE", b"IDLE", b"STARTTLS", b"COMPRESS"})
# literal / literal8 at the end of a line: ["~"] "{" number64 ["+"] "}"
_LITERAL_AT_END = re.compile(rb"(~?)\{([0-9]{1,20})(\+?)\}\r?\Z")
_TAIL_KEEP = 32  # bytes of a skipped line kept to see whether it announced a literal


class Sentinel(enum.Enum):
    NEED_DATA = "need-data"
    PAUSED = "paused"


NEED_DATA, PAUSED = Sentinel.NEED_DATA, Sentinel.PAUSED


class StateError(RuntimeError):
    """The session called a framer method in the wrong state (a bug, not peer input)."""


@dataclass(frozen=True)
class FramedCommand:
    """One whole command: its lines joined by CRLF with literals inline as sent, no final CRLF;
    except the literals in ``spooled``: (offset in ``raw``, size) of each, sent as ``LiteralData``."""

    tag: str
    raw: bytes
    spooled: tuple[tuple[int, int], ...] = ()

    def with_literals(self, data: bytes) -> FramedCommand:
        """The command with its spooled literals, ``data`` being all of them in order, put back."""
        pieces, start, taken = [], 0, 0
        for offset, size in self.spooled:
            pieces += [self.raw[start:offset], data[taken:taken + size]]
            start, taken = offset, taken + size
        pieces.append(self.raw[start:])
        return FramedCommand(self.tag, b"".join(pieces))

    @property
    def name(self) -> str:
        """The command word, upper-cased ("UID" for UID commands); "" when missing."""
        words = self.raw.split(b" ", 2)
        return words[1].split(b"\r", 1)[0].upper().decode("ascii", "replace") if len(words) > 1 else ""


@dataclass(frozen=True)
class NeedContinuation:
    """A synchronizing literal of ``size`` octets was announced: the framer waits for the session to
    send "+ ..." and call ``accept_literal()``, or to refuse (tagged NO) and call ``reject_literal()``."""

    tag: str
    size: int
    binary: bool


@dataclass(frozen=True)
class LiteralData:
    """Octets of a literal the framer does not keep (see ``max_in_memory``), in order."""

    data: bytes


@dataclass(frozen=True)
class RawLine:
    """One line read after ``expect_line()`` (SASL response, "DONE"), without its CRLF."""

    line: bytes


@dataclass(frozen=True)
class FramingError:
    """The peer broke a limit or the framing; send ``reply``. The framer has already resynced."""

    reply: TaggedReply


@dataclass(frozen=True)
class ConnectionClosed:
    """The peer closed the stream; ``partial`` tells whether a command was cut short."""

    partial: bool


Event = FramedCommand | NeedContinuation | LiteralData | RawLine | FramingError | ConnectionClosed
Result = Event | Sentinel


class _State(enum.Enum):
    LINE = "line"
    SYNC_WAIT = "sync-wait"
    LITERAL = "literal"
    DISCARD = "discard"  # dropping a refused non-synchronizing literal
    SKIP_LINE = "skip-line"  # dropping the rest of a refused command's line
    RAW_LINE = "raw-line"
    PAUSED = "paused"
    CLOSED = "closed"


class CommandFramer:
    """Assembles commands from the byte stream (see the module essay)."""

    def __init__(
        self,
        *,
        max_line: int = DEFAULT_MAX_LINE,
        max_literal: int = DEFAULT_MAX_LITERAL,
        max_command: int = DEFAULT_MAX_COMMAND,
        max_raw_line: int = DEFAULT_MAX_RAW_LINE,
        literal_minus: bool = False,
        max_in_memory: int = DEFAULT_MAX_IN_MEMORY,
        pausing_commands: frozenset[bytes] = PAUSING_COMMANDS,
    ) -> None:
        self.max_line = max_line
        self.max_literal = max_literal
        self.max_command = max_command
        self.max_raw_line = max_raw_line
        self.literal_minus = literal_minus
        self.max_in_memory = max_in_memory
        self.pausing_commands = pausing_commands
        self._buf = bytearray()
        self._scanned = 0
        self._eof = False
        self._state = _State.LINE
        self._resume_state = _State.LINE
        self._remaining = 0  # octets left in the literal being read or discarded
        self._tail = b""  # end of the line being skipped
        self._pause_tag = "*"
        self._start_command()

    def _start_command(self) -> None:
        self._parts: list[bytes] = []
        self._held = 0  # octets in _parts
        self._spooled: list[tuple[int, int]] = []
        self._streaming = False  # the literal being read goes out as LiteralData
        self._tag: str | None = None
        self._text_size = 0
        self._total_size = 0

    def _hold(self, part: bytes) -> None:
        self._parts.append(part)
        self._held += len(part)

    # -- input ------------------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes from the peer; ``b""`` means the stream ended."""
        if not data:
            self._eof = True
        elif self._state is not _State.CLOSED:
            self._buf += data

    @property
    def in_command(self) -> bool:
        """Part of a command has been read (a session may hold back untagged updates)."""
        return bool(self._parts) or self._state in (_State.LITERAL, _State.SYNC_WAIT)

    @property
    def receiving_literal(self) -> bool:
        """Inside a literal's octets, kept or discarded (the peer's deadline grows as they come)."""
        return self._state is _State.LITERAL or self._state is _State.DISCARD

    @property
    def partial_input(self) -> bool:
        """Part of a command (or of the line being dropped) has arrived: the peer owes the rest."""
        return self.in_command or bool(self._buf) or self._state is _State.SKIP_LINE

    @property
    def paused(self) -> bool:
        """``next_command`` returns ``PAUSED`` until ``resume()`` (or ``expect_line()``)."""
        return self._state is _State.PAUSED

    @property
    def awaiting_continuation(self) -> bool:
        """A synchronizing literal was announced: ``accept_literal()`` or ``reject_literal()`` is due."""
        return self._state is _State.SYNC_WAIT

    def next_command(self) -> Result:
        """The next event, ``NEED_DATA`` or ``PAUSED``. Never raises on peer input."""
        while True:
            state = self._state
            if state is _State.PAUSED or state is _State.SYNC_WAIT:
                return PAUSED
            if state is _State.CLOSED:
                return NEED_DATA
            result = self._handlers[state](self)
            if result is NEED_DATA and self._eof:
                partial = self.in_command or bool(self._buf)
                self._state = _State.CLOSED
                return ConnectionClosed(partial)
            if result is not None:
                return result

    # -- session decisions ---------------------------------------------------------------------------

    def accept_literal(self) -> None:
        """The session sent "+ ...": read the announced literal."""
        self._require(_State.SYNC_WAIT)
        self._state = _State.LITERAL

    def reject_literal(self) -> None:
        """The session refused the announced literal (tagged NO): the command is dropped."""
        self._require(_State.SYNC_WAIT)
        self._start_command()
        self._state = _State.LINE

    def expect_line(self) -> None:
        """The next line is raw (a SASL response after "+ challenge", "DONE" after IDLE)."""
        self._require(_State.PAUSED, _State.LINE)
        self._scanned = 0
        self._state = _State.RAW_LINE

    def pause(self) -> None:
        """Stop framing (``next_command`` returns ``PAUSED``) until ``resume()``."""
        if self._state is _State.PAUSED:
            return
        self._resume_state, self._state = self._state, _State.PAUSED

    def resume(self) -> None:
        self._require(_State.PAUSED)
        self._state = self._resume_state
        self._resume_state = _State.LINE

    def take_buffered(self) -> bytes:
        """Remove and return the unread bytes (STARTTLS: drop them; COMPRESS: decompress them)."""
        self._require(_State.PAUSED)
        data = bytes(self._buf)
        self._buf.clear()
        self._scanned = 0
        return data

    def _require(self, *states: _State) -> None:
        if self._state not in states:
            raise StateError(f"not allowed in framer state {self._state.value}")

    # -- command text --------------------------------------------------------------------------------

    def _on_line(self) -> Result | None:
        room = max(self.max_line - self._text_size, 0)  # a negative end would index from the right
        end = self._buf.find(b"\n", self._scanned, room + 1)
        if end < 0:
            if len(self._buf) <= room:
                self._scanned = len(self._buf)
                return NEED_DATA
            return self._line_too_long(room)
        line = bytes(self._buf[:end])
        del self._buf[: end + 1]
        self._scanned = 0
        if line.endswith(b"\r"):
            line = line[:-1]
        if not self._parts and not line:
            return None  # an empty line between commands is ignored
        if self._tag is None:
            self._tag = _tag_of(line)
        self._text_size += len(line) + 2
        self._total_size += len(line) + 2
        return self._after_line(line)

    def _after_line(self, line: bytes) -> Result | None:
        match = _LITERAL_AT_END.search(line)
        if match is None:
            return self._complete(line)
        size = int(match.group(2))
        binary, sync = bool(match.group(1)), not match.group(3)
        refusal = self._check_literal(size, sync)
        if refusal is not None:
            return self._refuse_literal(size, sync, refusal)
        self._hold(line + b"\r\n")
        self._streaming = self._held + size > self.max_in_memory
        if self._streaming:
            self._spooled.append((self._held, size))
        self._total_size += size
        self._remaining = size
        if sync:
            self._state = _State.SYNC_WAIT
            return NeedContinuation(self._tag or "*", size, binary)
        self._state = _State.LITERAL
        return None

    def _check_literal(self, size: int, sync: bool) -> str | None:
        if not sync and self.literal_minus and size > LITERAL_MINUS_MAX:
            return "Non-synchronizing literal over 4096 octets (LITERAL-)"
        if size > self.max_literal:
            return "Literal too big"
        if self._total_size + size > self.max_command:
            return "Command too big"
        return None

    def _refuse_literal(self, size: int, sync: bool, text: str) -> FramingError:
        tag = self._tag or "*"
        self._start_command()
        if sync:  # the client waits for "+": nothing of this command follows
            self._state = _State.LINE
            return FramingError(no(tag, TOOBIG, text))
        self._remaining = size
        self._state = _State.DISCARD
        return FramingError(bad(tag, text, TOOBIG))

    def _complete(self, line: bytes) -> FramedCommand:
        raw = b"".join(self._parts) + line
        command = FramedCommand(self._tag or "*", raw, tuple(self._spooled))
        self._start_command()
        self._state = _State.LINE
        words = raw.split(b" ", 2)
        if len(words) > 1 and words[1].upper() in self.pausing_commands:
            self._pause_tag = command.tag
            self._state = _State.PAUSED
        return command

    def _line_too_long(self, room: int) -> FramingError:
        # Only the bytes up to the limit count, so the tag found does not depend on packet sizes.
        tag = self._tag or _tag_of(bytes(self._buf[: min(room + 1, 200)]), need_space=True)
        self._start_command()
        self._tail = b""
        self._state = _State.SKIP_LINE
        return FramingError(bad(tag, "Command line too long", TOOBIG))

    # -- literals --------------------------------------------------------------------------------

    def _on_literal(self) -> Result | None:
        if not self._buf:
            return NEED_DATA
        take = min(self._remaining, len(self._buf))
        piece = bytes(self._buf[:take])
        del self._buf[:take]
        self._remaining -= take
        if self._remaining == 0:
            self._state = _State.LINE
        if self._streaming:
            return LiteralData(piece)
        self._hold(piece)
        return None

    def _on_discard(self) -> Result | None:
        if not self._buf and self._remaining:
            return NEED_DATA
        take = min(self._remaining, len(self._buf))
        del self._buf[:take]
        self._remaining -= take
        if self._remaining == 0:
            self._tail = b""
            self._state = _State.SKIP_LINE
        return None

    def _on_skip_line(self) -> Result | None:
        """Drop the rest of a refused command's line; a non-synchronizing literal there is dropped too."""
        end = self._buf.find(b"\n")
        if end < 0:
            self._tail = (self._tail + bytes(self._buf))[-_TAIL_KEEP:]
            self._buf.clear()
            return NEED_DATA
        tail = (self._tail + bytes(self._buf[:end]))[-_TAIL_KEEP:]
        del self._buf[: end + 1]
        self._scanned = 0
        match = _LITERAL_AT_END.search(tail)
        if match is not None and match.group(3):
            self._remaining = int(match.group(2))
            self._state = _State.DISCARD
        else:
            self._state = _State.LINE
        return None

    # -- raw lines -------------------------------------------------------------------------------

    def _on_raw_line(self) -> Result | None:
        end = self._buf.find(b"\n", 0, self.max_raw_line + 2)
        if end < 0:
            if len(self._buf) <= self.max_raw_line + 1:
                return NEED_DATA
            self._tail = b""
            self._state = _State.SKIP_LINE
            return FramingError(bad(self._pause_tag, "Line too long", TOOBIG))
        line = bytes(self._buf[:end])
        del self._buf[: end + 1]
        self._scanned = 0
        self._state = _State.LINE
        return RawLine(line[:-1] if line.endswith(b"\r") else line)

    _handlers: ClassVar[dict[_State, Callable[[CommandFramer], Result | None]]] = {
        _State.LINE: _on_line,
        _State.LITERAL: _on_literal,
        _State.DISCARD: _on_discard,
        _State.SKIP_LINE: _on_skip_line,
        _State.RAW_LINE: _on_raw_line,
    }


def _tag_of(line: bytes, need_space: bool = False) -> str:
    """The first word of a command line, for replies; "*" when there is none usable."""
    if need_space and b" " not in line:
        return "*"
    word = line.split(b" ", 1)[0]
    if not word or not word.isascii() or any(byte < 0x21 or byte in b'(){%*"\\+' for byte in word):
        return "*"
    return word.decode("ascii")
