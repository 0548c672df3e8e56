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
# Where hidden text starts, and what ends it. Not one regex "<script.*?</script>": at every opener
# it cannot close it would rescan the rest of the text, quadratic in a body of many "<script".
_HIDDEN_START = re.compile(r"<(script|style)\b|<!--", re.IGNORECASE)
_HIDDEN_END = {"script": re.compile(r"</script\s*>", re.IGNORECASE), "style": re.compile(r"</style\s*>", re.IGNORECASE)}
_COMMENT_END = re.compile(r"-->")
_TAG = re.compile(r"<[^<>]*>")  # not "<[^>]*>": a "<" never closed would rescan to the end each time
_BLANKS_AS_SPACES = str.maketrans("\t\r\f\v", "    ")


def search_text(raw: bytes, parsed: ParsedMessage, limit: int = MAX_BODY_CHARS) -> tuple[str, str]:
    """(decoded header text, decoded body text) of the message ``raw`` parsed as ``parsed``."""
    return _header_text(raw, parsed.root), "\n".join(_body_chunks(raw, parsed.root))[:limit]


def _header_text(raw: bytes, part: Part) -> str:
    fields = parse_fields(raw, part.header_start, part.header_end)
    return "\n".join(f"{name}: {decode_header_value(value)}" for name, value in fields)


def _body_chunks(raw: bytes, root: Part) -> list[str]:
    """The text of every text leaf and encapsulated header, depth first, walked with a stack."""
    chunks: list[str] = []
    stack = [root]
    while stack:
        part = stack.pop()
        if part.message is not None:
            chunks.append(_header_text(raw, part.message.root))
            stack.append(part.message.root)
        elif not part.children and part.content_type == "text":
            chunks.append(part_text(raw, part))
        stack.extend(reversed(part.children))
    return chunks


def part_text(raw: bytes, part: Part) -> str:
    """The readable text of the text/* leaf ``part``."""
    text = decode_charset(decode_body(raw, part), part.param("charset"), errors="replace")
    if part.content_subtype == "html":
        text = html.unescape(_TAG.sub(" ", _without_hidden(text)))
    return squeeze_blanks(text)


def squeeze_blanks(text: str) -> str:
    """``text`` with every run of blanks (space, tab, CR, FF, VT) made one space. Done with str
    methods, which run in C: a regex scan stopped at every lone space and took half of indexing a
    plain-text message. Each pass halves the runs left, so a run of n blanks costs log2(n) passes."""
    spaced = text.translate(_BLANKS_AS_SPACES)
    while "  " in spaced:
        spaced = spaced.replace("  ", " ")
    return spaced


def _without_hidden(text: str) -> str:
    """HTML ``text`` without scripts, styles and comments (each replaced by a space); one that is
    never closed hides the rest of the text, as in a browser."""
    out: list[str] = []
    pos = 0
    while (start := _HIDDEN_START.search(text, pos)) is not None:
        out.append(text[pos : start.start()])
        out.append(" ")
        element = start.group(1)
        end = (_HIDDEN_END[element.lower()] if element else _COMMENT_END).search(text, start.end())
        pos = len(text) if end is None else end.end()
    out.append(text[pos:])
    return "".join(out)
