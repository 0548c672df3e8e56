"""The read-only view of a message a Sieve script tests, and the header copy "editheader" changes.

Header values are compared unfolded and RFC 2047-decoded (RFC 5228 2.7.2: "comparisons are done on
the decoded header value"); address tests parse the raw value so that an encoded display name can
never fake an address. The body test (RFC 5173 5) sees text parts transfer- and charset-decoded,
HTML reduced to text, ``:raw`` the undecoded body. The MIME tree is parsed at most once, and only
when a body test asks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pillarbox.mime.charsets import decode_bytes
from pillarbox.mime.envelope import decode_header_value
from pillarbox.mime.headers import find_body_start
from pillarbox.mime.model import ParsedMessage, Part
from pillarbox.mime.rfc2047_encode import encode_text, fold
from pillarbox.mime.search_text import part_text
from pillarbox.mime.structure import parse_message
from pillarbox.mime.transfer import decode_body

_FIELD_START = re.compile(rb"(?m)^(?![ \t])")
_FIELD_NAME = re.compile(r"[!-9;-~]+\Z")


@dataclass(frozen=True)
class Envelope:
    sender: str
    """MAIL FROM, "" for the null reverse-path."""
    recipient: str
    """The RCPT TO this copy is delivered for."""
    auth: str = ""
    requiretls: bool = False
    """RFC 8689: the message came with REQUIRETLS; what a script sends on because of it keeps it (6)."""


@dataclass
class HeaderField:
    name: str
    value: str
    """Unfolded, not decoded."""
    raw: bytes | None
    """The field's bytes as received (None for a field a script added)."""

    def encoded(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return fold(self.name, encode_text(self.value)).encode()


def split_fields(header: bytes) -> list[HeaderField]:
    """The fields of a header block, each with its own bytes (continuation lines included)."""
    fields = []
    starts = [m.start() for m in _FIELD_START.finditer(header) if m.start() < len(header)]
    for start, end in zip(starts, [*starts[1:], len(header)], strict=True):
        raw = header[start:end]
        name, colon, value = decode_bytes(raw).partition(":")
        if not colon or not _FIELD_NAME.match(name.strip()):
            continue
        unfolded = re.sub(r"\r?\n(?=[ \t])", "", value).strip()
        fields.append(HeaderField(name.strip(), unfolded, raw))
    return fields


@dataclass
class MessageView:
    raw: bytes
    envelope: Envelope
    fields: list[HeaderField] = field(default_factory=list)
    body_start: int = 0
    _parsed: ParsedMessage | None = None
    _texts: dict[tuple[str, ...] | None, list[str]] = field(default_factory=dict)

    @classmethod
    def from_bytes(cls, raw: bytes, envelope: Envelope) -> MessageView:
        body_start = find_body_start(raw, 0, len(raw))
        header_end = body_start
        if raw[:body_start].endswith(b"\r\n\r\n") or raw[:body_start] in (b"\r\n",):
            header_end = body_start - 2
        elif raw[:body_start].endswith(b"\n\n") or raw[:body_start] == b"\n":
            header_end = body_start - 1
        return cls(raw, envelope, split_fields(raw[:header_end]), body_start)

    @property
    def size(self) -> int:
        return len(self.raw)

    def parsed(self) -> ParsedMessage:
        if self._parsed is None:
            self._parsed = parse_message(self.raw)
        return self._parsed

    def body_raw(self) -> str:
        return decode_bytes(self.raw[self.body_start :])

    def body_parts(self, content_types: tuple[str, ...] | None) -> list[str]:
        """Decoded text of the parts ``:content`` names (RFC 5173 5.2); None: the ``:text`` parts.
        Decoded once per message and selection, however many body tests ask."""
        if content_types not in self._texts:
            out: list[str] = []
            _collect(self.raw, self.parsed().root, content_types, out)
            self._texts[content_types] = out
        return self._texts[content_types]


def header_values(fields: list[HeaderField], name: str) -> list[str]:
    wanted = name.lower()
    return [decode_header_value(f.value) for f in fields if f.name.lower() == wanted]


def raw_values(fields: list[HeaderField], name: str) -> list[str]:
    wanted = name.lower()
    return [f.value for f in fields if f.name.lower() == wanted]


def header_block(fields: list[HeaderField]) -> bytes:
    return b"".join(f.encoded() for f in fields)


def _type_matches(part: Part, wanted: tuple[str, ...] | None) -> bool:
    if wanted is None:
        return part.content_type == "text"
    full = f"{part.content_type}/{part.content_subtype}"
    return any(w == "" or w.lower() in (part.content_type, full) for w in wanted)


def _collect(raw: bytes, part: Part, wanted: tuple[str, ...] | None, out: list[str]) -> None:
    for child in part.children:
        _collect(raw, child, wanted, out)
    if part.message is not None:
        if wanted is not None and _type_matches(part, wanted):
            root = part.message.root
            out.append(decode_bytes(raw[root.header_start : root.body_start]))
        _collect(raw, part.message.root, wanted, out)
    elif not part.children and _type_matches(part, wanted):
        if part.content_type == "text":
            out.append(part_text(raw, part))
        else:
            out.append(decode_bytes(decode_body(raw, part)))
