"""The text a search index needs from a message, computed once at delivery.

Headers: every field of the top-level header, one "name: value" line each, RFC 2047-decoded.
Body: the text/* parts, transfer-decoded (base64, quoted-printable) and charset-decoded, with
HTML reduced to its text (crudely: scripts and styles dropped, tags turned into spaces, entities
unescaped). Encapsulated messages (message/rfc822) contribute their decoded header and their
text parts, as in Dovecot's FTS. Non-text parts (images, archives) contribute nothing.
"""

from __future__ import annotations

import html
import re

from pillarbox.mime.charsets import decode_charset
from pillarbox.mime.envelope import decode_header_value
from pillarbox.mime.headers import parse_fields
from pillarbox.mime.model import ParsedMessage, Part
from pillarbox.mime.transfer import decode_body

MAX_BODY_CHARS = 2_000_000  # one message cannot make the index huge
_HIDDEN = re.compile(r"<(script|style)\b.*?</\1\s*>|<!--.*?-->", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
# runs of blanks other than a lone space (replacing every single space by itself was most of the cost)
_BLANKS = re.compile(r"[\t\r\f\v][ \t\r\f\v]*| [ \t\r\f\v]+")


def search_text(raw: bytes, parsed: ParsedMessage, limit: int = MAX_BODY_CHARS) -> tuple[str, str]:
    """(decoded header text, decoded body text) of the message ``raw`` parsed as ``parsed``."""
    chunks: list[str] = []
    _collect(raw, parsed.root, chunks)
    return _header_text(raw, parsed.root), "\n".join(chunks)[:limit]


def _header_text(raw: bytes, part: Part) -> str:
    fields = parse_fields(raw, part.header_start, part.header_end)
    return "\n".join(f"{name}: {decode_header_value(value)}" for name, value in fields)


def _collect(raw: bytes, part: Part, chunks: list[str]) -> None:
    for child in part.children:
        _collect(raw, child, chunks)
    if part.message is not None:
        chunks.append(_header_text(raw, part.message.root))
        _collect(raw, part.message.root, chunks)
    elif not part.children and part.content_type == "text":
        chunks.append(part_text(raw, part))


def part_text(raw: bytes, part: Part) -> str:
    """The readable text of the text/* leaf ``part``."""
    text = decode_charset(decode_body(raw, part), part.param("charset"), errors="replace")
    if part.content_subtype == "html":
        text = html.unescape(_TAG.sub(" ", _HIDDEN.sub(" ", text)))
    return _BLANKS.sub(" ", text)
