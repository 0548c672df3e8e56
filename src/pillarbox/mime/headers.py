"""Header sections: where they end, and their fields unfolded.

RFC 5322 2.1: a header section is a sequence of fields ended by an empty line; 2.2.3: a long field
body is folded by putting CRLF before whitespace, and unfolding just removes those CRLFs. Real mail
breaks all of this: bare LF for CRLF, lines without a colon, 8-bit bytes, no empty line at all. Like
Dovecot we never refuse: junk lines are skipped, a part with no empty line is all header, and bytes
that are not UTF-8 are read as Latin-1 (see ``charsets``), so every value is a printable str.
"""

from __future__ import annotations

import re

from pillarbox.mime.charsets import decode_bytes

# RFC 5322 3.6.8: field-name = 1*ftext, ftext = %d33-57 / %d59-126 (printable ASCII except colon).
_FIELD_NAME = re.compile(r"[!-9;-~]+")

Field = tuple[str, str]
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
