"""The terminals of RFC 9051 9 over one framed command: atoms, numbers, strings, literals, dates.

``Reader`` walks the command's bytes (lines and literals as ``FramedCommand.raw`` holds them). Each
method is named after the production it reads and raises ``ParseError`` when the input is not one;
``parse_command`` turns that into the tagged BAD (or NO) reply. Nothing here knows commands.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

from pillarbox.imap import utf7

MONTHS = {
    name: index
    for index, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1
    )
}
MAX_NUMBER = 2**32 - 1  # number = 1*DIGIT ; Unsigned 32-bit integer
MAX_NUMBER64 = 2**63 - 1  # number64 = 1*DIGIT ; Unsigned 63-bit integer
# ATOM-CHAR = <any CHAR except atom-specials>; atom-specials = "(" / ")" / "{" / SP / CTL /
# list-wildcards / quoted-specials / resp-specials
_ATOM = re.compile(rb'[^(){ \x00-\x1f\x7f%*"\\\]\x80-\xff]+')
_ASTRING_CHARS = re.compile(rb'[^(){ \x00-\x1f\x7f%*"\\\x80-\xff]+')  # ASTRING-CHAR = ATOM-CHAR / resp-specials
# list-char = ATOM-CHAR / list-wildcards / resp-specials
_LIST_CHARS = re.compile(rb'[^(){ \x00-\x1f\x7f"\\\x80-\xff]+')
_UTF8_LIST_CHARS = re.compile(rb'[^(){ \x00-\x1f\x7f"\\]+')
_DIGITS = re.compile(rb"[0-9]+")
_LITERAL = re.compile(rb"(~?)\{([0-9]{1,20})(\+?)\}\r\n")
_DATE_TIME = re.compile(
    rb'"( ?[0-9]|[0-9]{2})-([A-Za-z]{3})-([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{2})([0-9]{2})"'
)
_DATE_TEXT = re.compile(rb"([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4})")
_TEXT_CHAR = re.compile(rb"[^\r\n\x00]*")


class ParseError(Exception):
    """The input is not what the grammar wants here; ``status`` is BAD unless a NO fits better."""

    def __init__(self, text: str, code: str | None = None, status: str = "BAD") -> None:
        super().__init__(text)
        self.text = text
        self.code = code
        self.status = status


class Reader:
    """A cursor over one command's bytes."""

    def __init__(self, raw: bytes, *, utf8: bool = False, max_depth: int = 100) -> None:
        self.raw = raw
        self.pos = 0
        self.utf8 = utf8
        self.max_depth = max_depth

    # -- basics -----------------------------------------------------------------------------------

    def at_end(self) -> bool:
        return self.pos >= len(self.raw)

    def peek(self, size: int = 1) -> bytes:
        return self.raw[self.pos : self.pos + size]

    def take(self, token: bytes) -> bool:
        """Consume ``token`` (case-insensitive) if it comes next."""
        if self.raw[self.pos : self.pos + len(token)].upper() == token.upper():
            self.pos += len(token)
            return True
        return False

    def expect(self, token: bytes, what: str | None = None) -> None:
        if not self.take(token):
            raise ParseError(f"Expected {what or token.decode()}")

    def sp(self) -> None:
        """``SP``: exactly one space."""
        self.expect(b" ", "space")

    def end(self) -> None:
        """The command must stop here (``CRLF`` was removed by the framer)."""
        if not self.at_end():
            raise ParseError("Unexpected extra arguments")

    def _match(self, pattern: re.Pattern[bytes], what: str) -> bytes:
        found = pattern.match(self.raw, self.pos)
        if found is None or not found.group():
            raise ParseError(f"Expected {what}")
        self.pos = found.end()
        return found.group()

    # -- atoms and numbers --------------------------------------------------------------------------

    def atom(self) -> str:
        """``atom = 1*ATOM-CHAR``."""
        return self._match(_ATOM, "atom").decode("ascii")

    def keyword(self) -> str:
        """An atom upper-cased: command names, search keys, options."""
        return self.atom().upper()

    def number(self, limit: int = MAX_NUMBER) -> int:
        """``number = 1*DIGIT`` (32-bit); ``number64`` with ``limit=MAX_NUMBER64``."""
        digits = self._match(_DIGITS, "number")
        if len(digits) > 20 or int(digits) > limit:
            raise ParseError("Number out of range")
        return int(digits)

    def nz_number(self, limit: int = MAX_NUMBER) -> int:
        """``nz-number = digit-nz *DIGIT``."""
        value = self.number(limit)
        if value == 0:
            raise ParseError("Zero is not allowed here")
        return value

    def number64(self) -> int:
        return self.number(MAX_NUMBER64)

    # -- strings ------------------------------------------------------------------------------------

    def quoted(self) -> bytes:
        """``quoted = DQUOTE *QUOTED-CHAR DQUOTE``; 8-bit only in UTF-8 mode (RFC 9051 9, RFC 6855)."""
        self.expect(b'"', "quoted string")
        out = bytearray()
        raw = self.raw
        while self.pos < len(raw):
            byte = raw[self.pos]
            self.pos += 1
            if byte == 0x22:
                return self._checked_quoted(bytes(out))
            if byte == 0x5C:
                if self.pos >= len(raw) or raw[self.pos] not in b'"\\':
                    raise ParseError("Invalid escape in quoted string")
                byte = raw[self.pos]
                self.pos += 1
            elif byte in b"\r\n\x00":
                raise ParseError("Invalid character in quoted string")
            out.append(byte)
        raise ParseError("Unterminated quoted string")

    def _checked_quoted(self, data: bytes) -> bytes:
        if not data.isascii():
            if not self.utf8:
                raise ParseError("8-bit characters in quoted string")
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                raise ParseError("Invalid UTF-8 in quoted string") from None
        return data

    def literal(self, allow_binary: bool = False) -> bytes:
        """``literal = "{" number64 ["+"] "}" CRLF *CHAR8``; ``literal8`` (``~{``) when allowed."""
        found = _LITERAL.match(self.raw, self.pos)
        if found is None:
            raise ParseError("Expected literal")
        if found.group(1) and not allow_binary:
            raise ParseError("literal8 not allowed here")
        size = int(found.group(2))
        start = found.end()
        if start + size > len(self.raw):
            raise ParseError("Truncated literal")
        data = self.raw[start : start + size]
        if not found.group(1) and b"\x00" in data:
            raise ParseError("NUL in literal")
        self.pos = start + size
        return data

    def is_literal8(self) -> bool:
        return self.peek(2) == b"~{"

    def string(self) -> bytes:
        """``string = quoted / literal``."""
        if self.peek() == b'"':
            return self.quoted()
        if self.peek() == b"{":
            return self.literal()
        raise ParseError("Expected string")

    def astring(self) -> bytes:
        """``astring = 1*ASTRING-CHAR / string``."""
        if self.peek() in (b'"', b"{"):
            return self.string()
        return self._match(_ASTRING_CHARS, "astring")

    def nstring(self) -> bytes | None:
        """``nstring = string / nil``."""
        if self.take(b"NIL"):
            return None
        return self.string()

    def text(self) -> str:
        """``text = 1*TEXT-CHAR`` to the end of the line."""
        return self._match(_TEXT_CHAR, "text").decode("utf-8", "replace")

    def astring_text(self) -> str:
        """An astring as text (UTF-8; invalid bytes kept as surrogate escapes for the caller)."""
        return self.astring().decode("utf-8", "surrogateescape")

    # -- mailboxes ----------------------------------------------------------------------------------

    def mailbox(self) -> str:
        """``mailbox = "INBOX" / astring``; INBOX in any case is INBOX (RFC 9051 5.1)."""
        return decode_mailbox(self.astring(), self.utf8)

    def list_mailbox(self) -> str:
        """``list-mailbox = 1*list-char / string`` (a LIST pattern, wildcards kept)."""
        if self.peek() in (b'"', b"{"):
            data = self.string()
        else:
            data = self._match(_UTF8_LIST_CHARS if self.utf8 else _LIST_CHARS, "mailbox pattern")
        return decode_mailbox(data, self.utf8, normalize_inbox=False)

    # -- dates --------------------------------------------------------------------------------------

    def date(self) -> date:
        """``date = date-text / DQUOTE date-text DQUOTE``; ``date-text = date-day "-" date-month "-" date-year``."""
        quoted = self.take(b'"')
        found = _DATE_TEXT.match(self.raw, self.pos)
        if found is None:
            raise ParseError("Expected date")
        self.pos = found.end()
        if quoted:
            self.expect(b'"')
        return _make_date(found.group(1), found.group(2), found.group(3))

    def date_time(self) -> datetime:
        """``date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE``."""
        found = _DATE_TIME.match(self.raw, self.pos)
        if found is None:
            raise ParseError("Expected date-time")
        self.pos = found.end()
        return parse_date_time_groups(found.groups())


def decode_mailbox(data: bytes, utf8: bool, normalize_inbox: bool = True) -> str:
    """A mailbox name from the wire: UTF-8 in UTF-8 mode, else ASCII in modified UTF-7.

    Bytes that are no text at all are bad syntax (BAD); well-formed syntax that is not valid modified
    UTF-7 (RFC 3501 5.1.3) names no mailbox there can be, which is NO [CANNOT], as Dovecot answers."""
    try:
        text = data.decode("utf-8") if utf8 else data.decode("ascii")
    except UnicodeDecodeError:
        raise ParseError("Invalid mailbox name encoding") from None
    try:
        name = text if utf8 else utf7.decode(text)
    except ValueError:
        raise ParseError("Mailbox name is not valid modified UTF-7", code="CANNOT", status="NO") from None
    if normalize_inbox and name.upper() == "INBOX":
        return "INBOX"
    return name


def _make_date(day: bytes, month: bytes, year: bytes) -> date:
    number = MONTHS.get(month.decode("ascii").upper())
    if number is None:
        raise ParseError("Invalid month")
    try:
        return date(int(year), number, int(day))
    except ValueError:
        raise ParseError("Invalid date") from None


def parse_date_time_groups(groups: tuple[bytes | str | None, ...]) -> datetime:
    day, month, year, hour, minute, second, sign, zh, zm = (
        g.encode() if isinstance(g, str) else (g or b"") for g in groups
    )
    base = _make_date(day.strip(), month, year)
    if int(zm) >= 60:
        raise ParseError("Invalid zone")
    offset = timedelta(hours=int(zh), minutes=int(zm)) * (-1 if sign == b"-" else 1)
    try:
        return datetime(base.year, base.month, base.day, int(hour), int(minute), int(second), tzinfo=timezone(offset))
    except ValueError:
        raise ParseError("Invalid time") from None


def parse_internal_date(text: str) -> datetime:
    """The inverse of ``response.format_internal_date``: "17-Jul-1996 02:44:25 -0700"."""
    found = _DATE_TIME.fullmatch(b'"' + text.encode("ascii", "replace").rjust(26) + b'"')
    if found is None:
        raise ParseError("Invalid date-time")
    return parse_date_time_groups(found.groups())
