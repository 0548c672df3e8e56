"""Reading an mbox file as a stream of messages (mboxo and mboxrd; RFC 4155 describes the family).

An mbox is messages one after another, each introduced by a "From_" line (``From sender date``) and
followed by an empty line. A body line that starts with "From " would look like a separator, so
writers quote it as ">From "; mboxrd writers also quote already-quoted lines (">>From "), so that
reading can undo exactly one level. We undo one level (mboxrd): for mboxo files this is right for
every line except a body line that really started with ">From ", which mboxo cannot represent anyway.

A "From " line is a separator when it looks exactly like a From_ line with a date (some writers omit
the empty line before it), or when it follows an empty line (or starts the file) and at least has a
sender and a time (``From x ... 10:00``), so that an unquoted "From me, hello" in a body stays text.
The file is read in pieces of at most ``PIECE`` bytes, never whole, so a multi-gigabyte mbox costs
one message of memory; a file whose first line is not a From_ line is refused at once (binary
garbage is not read to its end).

Flags come from the Status: (R = \\Seen) and X-Status: (A = \\Answered, F = \\Flagged, T = \\Draft,
D = \\Deleted) headers that mutt, Pine and others write; the message bytes are kept as they are
(those headers included), except for the From_ line. INTERNALDATE is the From_ line's date, else the
Date: header, else the time of import.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import BinaryIO

from pillarbox.errors import PillarboxError

PIECE = 1 << 16
_QUOTED_FROM = re.compile(rb">+From ")
_FROM_LINE_DATE = re.compile(
    rb"From \S+\s+(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    rb" +(\d{1,2}) (\d{1,2}):(\d\d)(?::(\d\d))?(?: ([+-]\d{4}|[A-Z]{3,5}))? (\d{4})\s*$"
)
_FROM_LINE_LOOSE = re.compile(rb"From \S+ .*\d:\d\d")
_MONTHS = {m: i for i, m in enumerate(
    (b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"), 1)}
_STATUS_FLAGS = {ord("R"): "\\Seen"}
_X_STATUS_FLAGS = {ord("A"): "\\Answered", ord("F"): "\\Flagged", ord("T"): "\\Draft", ord("D"): "\\Deleted"}


class MboxError(PillarboxError):
    """The file is not an mbox."""


@dataclass(frozen=True)
class FileMessage:
    """One message read from a file: its bytes (line endings as found), flags and INTERNALDATE."""

    raw: bytes
    flags: frozenset[str]
    internal_date: datetime | None


def read_mbox(stream: BinaryIO) -> Iterator[FileMessage]:
    lines: list[bytes] | None = None  # None until the first From_ line
    from_line = b""
    at_line_start = prev_blank = True
    while piece := stream.readline(PIECE):
        starts_line, at_line_start = at_line_start, piece.endswith(b"\n")
        if starts_line and _is_separator(piece, prev_blank):
            if lines is not None:
                yield _message(from_line, lines)
            from_line, lines, prev_blank = piece, [], False
            while not at_line_start and (rest := stream.readline(PIECE)):  # an over-long From_ line
                at_line_start = rest.endswith(b"\n")
            continue
        if lines is None:
            if piece.strip():
                raise MboxError("not an mbox file (it does not start with a 'From ' line)")
            continue
        if starts_line:
            prev_blank = piece in (b"\n", b"\r\n")
            if _QUOTED_FROM.match(piece):
                piece = piece[1:]
        lines.append(piece)
    if lines is not None:
        yield _message(from_line, lines)


def _is_separator(line: bytes, prev_blank: bool) -> bool:
    if not line.startswith(b"From "):
        return False
    return bool(_FROM_LINE_DATE.match(line) or (prev_blank and _FROM_LINE_LOOSE.match(line)))


def _message(from_line: bytes, lines: list[bytes]) -> FileMessage:
    if lines and lines[-1] in (b"\n", b"\r\n"):
        lines.pop()  # the empty line that separates messages belongs to the mbox, not the message
    flags, date_header = _scan_headers(lines)
    internal_date = _from_line_date(from_line) or _header_date(date_header)
    return FileMessage(b"".join(lines), flags, internal_date)


def _scan_headers(lines: list[bytes]) -> tuple[frozenset[str], bytes | None]:
    flags: set[str] = set()
    date: bytes | None = None
    for line in lines:
        if line in (b"\n", b"\r\n"):
            break
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"status":
            flags.update(_STATUS_FLAGS[c] for c in value.strip() if c in _STATUS_FLAGS)
        elif name == b"x-status":
            flags.update(_X_STATUS_FLAGS[c] for c in value.strip() if c in _X_STATUS_FLAGS)
        elif name == b"date" and date is None:
            date = value.strip()
    return frozenset(flags), date


def _from_line_date(line: bytes) -> datetime | None:
    match = _FROM_LINE_DATE.match(line)
    if match is None:
        return None
    month, day, hour, minute, second, zone, year = match.groups()
    offset = timedelta(0)
    if zone and zone[:1] in b"+-":
        sign = -1 if zone[:1] == b"-" else 1
        offset = sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5]))
    try:
        return datetime(int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second or 0),
                        tzinfo=timezone(offset)).astimezone(UTC)
    except ValueError:
        return None  # "Feb 31": fall back to the Date: header


def _header_date(value: bytes | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value.decode("ascii", "replace"))
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
