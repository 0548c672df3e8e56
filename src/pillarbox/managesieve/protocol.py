"""ManageSieve's wire syntax (RFC 5804 4), sans-IO: bytes in, commands out; responses to bytes.

    command  = atom *(SP argument) CRLF
    argument = string / number        string = quoted / literal-c2s
    quoted   = DQUOTE *(QUOTED-CHAR / "\\" QUOTED-SPECIALS) DQUOTE
    literal-c2s = "{" number "+}" CRLF *OCTET     (we also take the synchronizing "{n}" form)

A line is at most ``max_line`` octets and a literal at most ``max_literal`` (the script size limit
plus room for a name): past either the core raises ``ManageSieveError`` and the session answers
``BYE``, because a client that sent that much can no longer be in step with us. A client answering
a SASL challenge sends one string on a line (``expect_sasl``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pillarbox.errors import PillarboxError

_LITERAL = re.compile(rb"\{([0-9]{1,10})(\+?)\}\r?\n")
_ATOM = re.compile(rb"[A-Za-z]+")
_NUMBER = re.compile(rb"[0-9]{1,10}")
_QUOTED = re.compile(rb'"((?:[^"\\\r\n]|\\["\\])*)"')
MAX_ARGUMENTS = 8


class ManageSieveError(PillarboxError):
    """The client broke the syntax; ``fatal``: it cannot be resynchronised (answer BYE)."""

    def __init__(self, message: str, fatal: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal


@dataclass(frozen=True)
class Command:
    name: str
    arguments: tuple[str | int, ...]


class Parser:
    def __init__(self, max_line: int = 8192, max_literal: int = 1 << 20) -> None:
        self.buffer = bytearray()
        self.max_line = max_line
        self.max_literal = max_literal

    def receive(self, data: bytes) -> None:
        self.buffer += data

    def drop(self) -> int:
        """STARTTLS: what was pipelined in plaintext is thrown away (CVE-2011-0411)."""
        count = len(self.buffer)
        self.buffer.clear()
        return count

    def next_command(self) -> Command | None:
        """The next whole command, None when more bytes are needed, or ManageSieveError."""
        parsed = self._parse(bytes(self.buffer))
        if parsed is None:
            return None
        command, used = parsed
        del self.buffer[:used]
        return command

    def next_sasl_response(self) -> str | None:
        """A client's answer to a challenge: one string (quoted or literal) on its own line."""
        parsed = self._arguments(bytes(self.buffer), 0)
        if parsed is None:
            return None
        arguments, used = parsed
        del self.buffer[:used]
        if len(arguments) != 1 or not isinstance(arguments[0], str):
            raise ManageSieveError("a SASL response is one string")
        return arguments[0]

    def _parse(self, data: bytes) -> tuple[Command, int] | None:
        match = _ATOM.match(data)
        if match is None:
            if data and not data[:1].isalpha():
                end = data.find(b"\n")
                if end != -1:
                    del self.buffer[: end + 1]
                    raise ManageSieveError("a command starts with its name")
            self._check_line(data)
            return None
        parsed = self._arguments(data, match.end())
        if parsed is None:
            return None
        arguments, used = parsed
        return Command(match.group().decode().upper(), tuple(arguments)), used

    def _check_line(self, pending: bytes) -> None:
        if len(pending) > self.max_line and b"\n" not in pending[: self.max_line]:
            raise ManageSieveError("line too long", fatal=True)

    def _arguments(self, data: bytes, pos: int) -> tuple[list[str | int], int] | None:
        arguments: list[str | int] = []
        while True:
            while data[pos : pos + 1] == b" ":
                pos += 1
            if data[pos : pos + 2] == b"\r\n" or data[pos : pos + 1] == b"\n":
                return arguments, pos + (2 if data[pos : pos + 1] == b"\r" else 1)
            if pos >= len(data) or data[pos:] == b"\r":
                self._check_line(data[pos:])
                return None
            if len(arguments) >= MAX_ARGUMENTS:
                raise self._junk(data, pos, "too many arguments")
            parsed = self._argument(data, pos)
            if parsed is None:
                return None
            value, pos = parsed
            arguments.append(value)

    def _argument(self, data: bytes, pos: int) -> tuple[str | int, int] | None:
        quoted = _QUOTED.match(data, pos)
        if quoted is not None:
            text = re.sub(rb'\\(["\\])', rb"\1", quoted.group(1))
            return self._text(text, data, pos), quoted.end()
        literal = _LITERAL.match(data, pos)
        if literal is not None:
            size = int(literal.group(1))
            if size > self.max_literal:
                raise ManageSieveError(f"literal larger than {self.max_literal} octets", fatal=True)
            if len(data) < literal.end() + size:
                return None
            return self._text(data[literal.end() : literal.end() + size], data, pos), literal.end() + size
        number = _NUMBER.match(data, pos)
        if number is not None and number.end() == len(data):
            return None  # more digits may follow
        if number is not None and data[number.end() : number.end() + 1] in (b" ", b"\r", b"\n"):
            return int(number.group()), number.end()
        if data[pos : pos + 1] in (b'"', b"{") and b"\n" not in data[pos:]:
            self._check_line(data[pos:])
            return None
        raise self._junk(data, pos, "bad argument")

    def _text(self, raw: bytes, data: bytes, pos: int) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self._junk(data, pos, "a string is not UTF-8") from None

    def _junk(self, data: bytes, pos: int, why: str) -> ManageSieveError:
        """Skip to the end of the offending line, so the next command can be read."""
        end = data.find(b"\n", pos)
        if end == -1:
            return ManageSieveError(why, fatal=True)
        del self.buffer[: end + 1]
        return ManageSieveError(why)


def quote(text: str) -> str:
    """A string as a quoted string when it can be one, else as a literal (RFC 5804 4)."""
    if len(text) < 1024 and not any(c in text for c in '\r\n"\\\0'):
        return f'"{text}"'
    data = text.encode()
    return "{" + str(len(data)) + "}\r\n" + text


def response(status: str, code: str | None = None, text: str | None = None) -> bytes:
    """``OK`` / ``NO`` / ``BYE`` with an optional (code) and human text (RFC 5804 1.3)."""
    parts = [status]
    if code:
        parts.append(f"({code})")
    if text is not None:
        parts.append(quote(text))
    return (" ".join(parts) + "\r\n").encode()
