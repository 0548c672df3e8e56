"""Content-Transfer-Encoding (RFC 2045 6): undoing base64 and quoted-printable, leniently.

IMAP BINARY (RFC 3516) and the search index need a part's decoded octets. Real mail has base64
with junk characters, missing padding or trailing garbage, and quoted-printable with bad escapes;
like other servers we decode what we can rather than fail. An encoding we do not know is returned
as is; IMAP BINARY should answer such a part with [UNKNOWN-CTE], hence ``KNOWN_ENCODINGS``.
"""

from __future__ import annotations

import binascii
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pillarbox.mime.model import Part

KNOWN_ENCODINGS = frozenset({"7BIT", "8BIT", "BINARY", "BASE64", "QUOTED-PRINTABLE"})
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]+")
# The lookbehind starts a match only where a run of blanks starts: without it, a run not at a line end
# is rescanned from each of its blanks (quadratic in a body of many blanks).
_TRAILING_BLANKS = re.compile(rb"(?<![ \t])[ \t]+(?=\r?\n|\Z)")
_SOFT_BREAK = re.compile(rb"=(?:\r?\n|\Z)")
_ESCAPE = re.compile(rb"=([0-9A-Fa-f]{2})")
_OCTETS = {b"%02X" % octet: bytes([octet]) for octet in range(256)}


def decode_body(raw: bytes, part: Part) -> bytes:
    """The body of ``part`` (a slice of ``raw``) with its Content-Transfer-Encoding undone."""
    return decode_transfer(raw[part.body_start : part.body_end], part.encoding)


def decode_transfer(data: bytes, encoding: str) -> bytes:
    """Undo ``encoding`` (uppercase, as in ``Part.encoding``) on ``data``; identity if unknown."""
    if encoding == "BASE64":
        return decode_base64(data)
    if encoding == "QUOTED-PRINTABLE":
        return decode_quoted_printable(data)
    return data


def decode_quoted_printable(data: bytes) -> bytes:
    """RFC 2045 6.7. The rules a decoder must apply beyond "=XX": blanks at the end of an encoded line
    were added in transport and are dropped (rule 3), and "=" ending a line, blanks after it or not, is
    a soft line break that joins the line to the next (rule 5). ``binascii.a2b_qp`` does neither: it
    kept the blanks and took "=  " for text, so BINARY.SIZE came out larger than the part. Malformed
    escapes stay as they are written, lower-case hex is read (both as the RFC advises decoders)."""
    data = _TRAILING_BLANKS.sub(b"", data)
    data = _SOFT_BREAK.sub(b"", data)
    return _ESCAPE.sub(lambda found: _OCTETS[found.group(1).upper()], data)


def decode_base64(data: bytes) -> bytes:
    """Base64 ignoring non-alphabet bytes and fixing the padding, so it never raises."""
    try:
        return binascii.a2b_base64(data, strict_mode=False)
    except binascii.Error:
        pass
    clean = _NOT_BASE64.sub(b"", data.split(b"=", 1)[0])
    rest = len(clean) % 4
    if rest == 1:  # a lone sextet carries no full octet
        clean = clean[:-1]
    elif rest:
        clean += b"=" * (4 - rest)
    return binascii.a2b_base64(clean)
