"""Header sections: where they end, and their fields unfolded.

RFC 5322 2.1: a header section is a sequence of fields ended by an empty line; 2.2.3: a long field
body is folded by putting CRLF before whitespace, and unfolding just removes those CRLFs. Real mail
breaks all of this: bare LF for CRLF, lines without a colon, 8-bit bytes, no empty line at all. Like
Dovecot we never refuse: junk lines are skipped, a part with no empty line is all header, and bytes
that are not UTF-8 are read as Latin-1 (see ``charsets``), so every value is a printable str.

Every function here is linear in the size of the header: a field folded over 100,000 lines is
gathered as a list of lines joined once, never by appending to a growing string (which copies the
whole field again for each line). What a peer may send at all is bounded by ``HeaderLimits``,
checked once when a message arrives (SMTP DATA / BDAT).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass

from pillarbox.mime.charsets import decode_bytes

# RFC 5322 3.6.8: field-name = 1*ftext, ftext = %d33-57 / %d59-126 (printable ASCII except colon).
_FIELD_NAME = re.compile(r"[!-9;-~]+")

Field = tuple[str, str]
# A line with its LF; the last one may have none. Only LF ends a line, as in ``find_body_start``: a
# bare CR inside a field must not end the header early for one reader and not for another.
_RAW_LINE = re.compile(rb"[^\n]*\n|[^\n]+\Z")
_WINDOW = 8192


def find_body_start(raw: bytes, start: int, end: int) -> int:
    """Offset just past the empty line that ends the header at ``start``, or ``end`` if none.

    The empty line is either at ``start`` itself or right after some line's LF, so it is the
    earliest "\\n\\n" or "\\n\\r\\n" -- two C-speed searches instead of a Python loop over lines.
    """
    if raw.startswith(b"\n", start, end):
        return start + 1
    if raw.startswith(b"\r\n", start, end):
        return start + 2
    # Search a window at a time: a CRLF message has no "\n\n", and looking for it through a
    # multi-megabyte body would cost more than the rest of the parse.
    low = start
    while low < end:
        high = min(end, low + _WINDOW)
        lf_lf = raw.find(b"\n\n", low, high)
        lf_crlf = raw.find(b"\n\r\n", low, lf_lf + 1 if lf_lf != -1 else high)
        if lf_crlf != -1:
            return lf_crlf + 3
        if lf_lf != -1:
            return lf_lf + 2
        low = high - 2 if high < end else end  # overlap so a pattern across windows is seen
    return end


class HeaderExcess(enum.Enum):
    """Which of the ``HeaderLimits`` a header section goes past."""

    BYTES = "bytes"
    LINES = "lines"


@dataclass(frozen=True)
class HeaderLimits:
    """The largest header section a peer may send: in bytes, and in lines (the empty line that ends
    it included). Lines are limited on their own because each costs a Python step in every reader
    (ours, and the DKIM library's, which is not linear in them)."""

    max_bytes: int = 256 * 1024
    max_lines: int = 5000


def header_excess(raw: bytes, limits: HeaderLimits) -> HeaderExcess | None:
    """The limit the header section of the message ``raw`` goes past, or None.

    Only the first ``max_bytes + 1`` bytes are looked at, so a large body costs nothing.
    """
    end = find_body_start(raw, 0, min(len(raw), limits.max_bytes + 1))
    if end > limits.max_bytes:
        return HeaderExcess.BYTES
    if raw.count(b"\n", 0, end) > limits.max_lines:
        return HeaderExcess.LINES
    return None


def split_raw_fields(block: bytes) -> list[bytes]:
    """The fields of the header ``block`` as their exact bytes (continuation lines and line ends
    included), up to the empty line that ends the block. A continuation line before any field
    stands alone."""
    fields: list[list[bytes]] = []
    for line in _RAW_LINE.findall(block):
        if line in (b"\r\n", b"\n"):
            break
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1].append(line)
        else:
            fields.append([line])
    return [b"".join(lines) for lines in fields]


def drop_fields(message: bytes, unwanted: Callable[[bytes], bool]) -> tuple[bytes, int]:
    """The message without the header fields for which ``unwanted(field's exact bytes)`` holds; and how
    many went (the message itself, unchanged, when none did)."""
    end = find_body_start(message, 0, len(message))
    fields = split_raw_fields(message[:end])  # linear: a field folded over many lines is joined once
    kept = [item for item in fields if not unwanted(item)]
    if len(kept) == len(fields):
        return message, 0
    header_length = sum(len(item) for item in fields)  # the empty line ending the header and the body follow
    return b"".join(kept) + message[header_length:], len(fields) - len(kept)


def parse_fields(raw: bytes, start: int, stop: int) -> list[Field]:
    """The fields of the header in ``raw[start:stop]`` as (lowercased name, unfolded value).

    Values are stripped but otherwise raw: encoded words, comments and quotes are kept.
    """
    fields: list[Field] = []
    name: str | None = None
    chunks: list[str] = []
    for line in _lines(raw[start:stop]):
        if line[:1] in (" ", "\t"):
            if name is not None:  # a continuation before any field is junk
                chunks.append(line)
            continue
        if name is not None:
            fields.append((name, "".join(chunks).strip()))
        name = _field_name(line)
        chunks = [line[line.find(":") + 1 :]] if name is not None else []
    if name is not None:
        fields.append((name, "".join(chunks).strip()))
    return fields


def _lines(block: bytes) -> list[str]:
    """Lines without their EOL; decoded per line when the block is not all UTF-8, so one Latin-1
    field does not turn the UTF-8 fields around it into mojibake."""
    try:
        lines = block.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        lines = [decode_bytes(line) for line in block.split(b"\n")]
    return [line.removesuffix("\r") for line in lines]


def _field_name(line: str) -> str | None:
    """The lowercased name of a field line, or None when the line is junk (no colon, bad name)."""
    colon = line.find(":")
    if colon <= 0:
        return None
    # RFC 5322 4.5.8 (obsolete syntax) allows whitespace between the name and the colon.
    name = line[:colon].rstrip(" \t")
    if not _FIELD_NAME.fullmatch(name):
        return None
    return name.lower()


def first_values(fields: list[Field]) -> dict[str, str]:
    """Map each field name to the value of its first occurrence, which is what IMAP reports."""
    values: dict[str, str] = {}
    for name, value in fields:
        values.setdefault(name, value)
    return values
