"""Binary content made fit for IMAP's BODY[]: parts holding NUL re-encoded as base64 when stored.

The problem: a message may carry a part of binary content (RFC 2045 2.9 "binary", or 8bit with a NUL)
when it arrives by APPEND in a literal8 (RFC 3516 4.4) or by SMTP BODY=BINARYMIME (RFC 3030). IMAP can
send BINARY[n] of it in a literal8, but BODY[], BODY[n] and RFC822 are an ``nstring`` (RFC 9051 9),
and a literal cannot hold NUL. Sending them as a literal8 breaks every client that did not ask for
BINARY.

What RFC 3516 says: the server "MAY modify the CTE of the appended data" without losing data (4.4),
and must describe and send the message "as though the binary-encoded sections are encoded in a CTE
acceptable to the IMAP4 base specification" (6). Converting at every FETCH would make BODYSTRUCTURE,
RFC822.SIZE and the offsets stored at delivery disagree with what BODY[] sends; so, as Dovecot does,
the message is converted once, before it is stored: each leaf part whose content holds a NUL and is
not encoded already gets base64 content and a ``Content-Transfer-Encoding: base64`` field. Nothing
else changes (RFC 3516 6 warns that gratuitous re-encoding breaks signatures), and BINARY[n] of the
part still returns the octets as they came.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator

from pillarbox.mime.model import Part
from pillarbox.mime.structure import parse_message

_UNENCODED = frozenset({"7BIT", "8BIT", "BINARY"})
_LINE = re.compile(rb"[^\n]*\n|[^\n]+")
_CTE = re.compile(rb"content-transfer-encoding[ \t]*:", re.IGNORECASE)
BASE64_LINE = 76  # RFC 2045 6.8: encoded lines are at most 76 characters


def encode_binary_parts(raw: bytes) -> bytes:
    """``raw`` with every unencoded leaf part that holds a NUL base64-encoded; ``raw`` itself when
    there is none (the common case costs one scan for NUL)."""
    if b"\x00" not in raw:
        return raw
    out, position = [], 0
    for part in _leaves(parse_message(raw).root):  # in the order of the bytes, never overlapping
        content = raw[part.body_start : part.body_end]
        if part.encoding in _UNENCODED and b"\x00" in content:
            header = raw[part.header_start : part.body_start]
            eol = b"\r\n" if header.endswith(b"\r\n") else b"\n"
            ending = eol if part.body_end == len(raw) else b""  # else the delimiter's line break follows
            out += [raw[position : part.header_start], _base64_header(header, eol), _base64_lines(content, eol), ending]
            position = part.body_end
    return b"".join([*out, raw[position:]])


def _leaves(part: Part) -> Iterator[Part]:
    """Every part with content of its own, in the order of the bytes (message/rfc822 is opened)."""
    if part.children:
        for child in part.children:
            yield from _leaves(child)
    elif part.message is not None:
        yield from _leaves(part.message.root)
    else:
        yield part


def _base64_lines(content: bytes, eol: bytes) -> bytes:
    encoded = base64.b64encode(content)
    return eol.join(encoded[start : start + BASE64_LINE] for start in range(0, len(encoded), BASE64_LINE))


def _base64_header(header: bytes, eol: bytes) -> bytes:
    """The part's header with its Content-Transfer-Encoding field (and its folded lines) saying base64,
    or with one added before the empty line that ends the header."""
    field = b"Content-Transfer-Encoding: base64" + eol
    lines, replaced, in_old_field = [], False, False
    for line in _LINE.findall(header):
        if in_old_field and line[:1] in (b" ", b"\t"):
            continue  # a folded continuation of the field replaced
        in_old_field = bool(_CTE.match(line))
        if in_old_field:
            lines.append(b"" if replaced else field)
            replaced = True
        else:
            lines.append(line)
    if not replaced:  # content follows, so the header ends with its empty line
        lines.insert(len(lines) - 1, field)
    return b"".join(lines)
