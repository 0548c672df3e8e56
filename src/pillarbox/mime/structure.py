"""Parsing a message once into a ``Part`` tree with exact byte offsets (RFC 2045, 2046, 5322).

Why not the stdlib ``email`` package: it rebuilds objects from decoded text and loses the byte
offsets that IMAP BODY[section] needs, so we walk the bytes ourselves and only borrow decoders.

Multipart (RFC 2046 5.1.1): a delimiter is a line "--" boundary, optionally followed by transport
padding (spaces, tabs); the close delimiter adds "--". The CRLF *before* a delimiter belongs to
it, so a part ends just before that CRLF. Preamble and epilogue are ignored. We split top-down:
each multipart finds its own delimiters inside its byte range and parses each part within its
slice, so an enclosing boundary always ends an inner part -- even an inner multipart whose close
delimiter is missing -- which is how Dovecot and Cyrus behave. A multipart with no close delimiter
runs to the end of its range.

Hostile input is bounded by ``Limits``: past the nesting depth or part count, a container is no
longer opened and becomes an opaque application/octet-stream leaf. A multipart with no boundary or
no delimiter gets one empty text/plain child (Dovecot's "empty bodystructure"), and a message/rfc822
that cannot be opened (base64-encoded, say) becomes application/octet-stream, so that the invariants
in ``model`` hold and every tree is a valid BODYSTRUCTURE.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pillarbox.mime.envelope import build_envelope, decode_header_value, display_addresses
from pillarbox.mime.headers import Field, find_body_start, first_values, parse_fields
from pillarbox.mime.model import Encapsulated, ParsedMessage, Part, find_part
from pillarbox.mime.params import Params, parse_content_type, parse_disposition, without_comments
from pillarbox.mime.summary import first_msg_id, parse_date, references

__all__ = ["Encapsulated", "Limits", "ParsedMessage", "Part", "find_part", "parse_message"]


@dataclass(frozen=True)
class Limits:
    max_depth: int = 100  # nested multipart/message containers
    max_parts: int = 5000  # parts in the whole tree


DEFAULT_LIMITS = Limits()
_OPAQUE = ("application", "octet-stream")
_US_ASCII: Params = (("charset", "us-ascii"),)
_IDENTITY_ENCODINGS = frozenset({"7BIT", "8BIT", "BINARY"})
# After "--boundary" or "--boundary--": transport padding, then the end of the line or of the range.
_PADDING_EOL = re.compile(rb"[ \t]*(?:\r?\n|\r?\Z)")


class _Budget:
    """Parts still allowed in this message; shared by the whole recursive descent."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.parts_left = limits.max_parts


def parse_message(raw: bytes, limits: Limits = DEFAULT_LIMITS) -> ParsedMessage:
    """Parse the RFC 5322 message ``raw`` (CRLF or bare LF). Never raises on malformed input."""
    raw = bytes(raw)
    fields, root = _parse_entity(raw, 0, len(raw), False, 0, _Budget(limits))
    headers = first_values(fields)
    envelope = build_envelope(headers)
    return ParsedMessage(
        root=root,
        envelope=envelope,
        subject=decode_header_value(envelope.subject or ""),
        from_=display_addresses(envelope.from_),
        date=parse_date(envelope.date),
        message_id=_first_id(envelope.message_id),
        in_reply_to=_first_id(envelope.in_reply_to),
        references=references(headers.get("references")),
    )


def _first_id(value: str | None) -> str | None:
    return first_msg_id(value) or value or None


def _parse_entity(
    raw: bytes, start: int, end: int, in_digest: bool, depth: int, budget: _Budget
) -> tuple[list[Field], Part]:
    """Parse the entity (header + body) in ``raw[start:end]``; returns its fields and its Part."""
    body_start = find_body_start(raw, start, end)
    fields = parse_fields(raw, start, body_start)
    mime = first_values(fields)
    budget.parts_left -= 1
    opaque = depth >= budget.limits.max_depth or budget.parts_left <= 0
    kind, subtype, params = _content_type(mime.get("content-type"), in_digest)
    encoding = _encoding(mime.get("content-transfer-encoding"))
    children: tuple[Part, ...] = ()
    message: Encapsulated | None = None
    if kind == "multipart" and not opaque:
        boundary = next((value for name, value in params if name == "boundary"), "")
        children = _parse_multipart(raw, body_start, end, boundary, subtype == "digest", depth + 1, budget)
    elif _is_message(kind, subtype) and encoding in _IDENTITY_ENCODINGS and not opaque:
        # A base64 message/rfc822 cannot be opened without decoding, and then no offset would fit.
        inner_fields, inner = _parse_entity(raw, body_start, end, False, depth + 1, budget)
        message = Encapsulated(inner, build_envelope(first_values(inner_fields)))
    if _unopened_container(kind, subtype, children, message):
        kind, subtype = _OPAQUE
    return fields, Part(
        header_start=start,
        body_start=body_start,
        body_end=end,
        content_type=kind,
        content_subtype=subtype,
        params=params,
        encoding=encoding,
        body_lines=raw.count(b"\n", body_start, end) if _counts_lines(kind, subtype) else 0,
        children=children,
        message=message,
        content_id=mime.get("content-id"),  # these four are sent raw in BODYSTRUCTURE
        description=mime.get("content-description"),
        md5=mime.get("content-md5"),
        location=mime.get("content-location"),
        disposition=parse_disposition(mime.get("content-disposition")),
        language=_language(mime.get("content-language")),
    )


def _content_type(value: str | None, in_digest: bool) -> tuple[str, str, Params]:
    """RFC 2045 5.2: a missing or invalid Content-Type means text/plain; charset=us-ascii, except
    in multipart/digest where it means message/rfc822 (RFC 2046 5.1.5)."""
    parsed = parse_content_type(value)
    if parsed is not None:
        return parsed
    return ("message", "rfc822", ()) if in_digest else ("text", "plain", _US_ASCII)


def _encoding(value: str | None) -> str:
    """RFC 2045 6.1: the mechanism token, case-insensitive (upper-cased here for IMAP); 7BIT default."""
    token = without_comments(value or "").split()
    return token[0].upper() if token else "7BIT"


def _language(value: str | None) -> tuple[str, ...] | None:
    """RFC 3282 Content-Language: a comma-separated list of tags, comments dropped."""
    tags = tuple(tag.strip() for tag in without_comments(value or "").split(",") if tag.strip())
    return tags or None


def _is_message(kind: str, subtype: str) -> bool:
    return kind == "message" and subtype in ("rfc822", "global")


def _counts_lines(kind: str, subtype: str) -> bool:
    return kind == "text" or _is_message(kind, subtype)


def _unopened_container(kind: str, subtype: str, children: tuple[Part, ...], message: Encapsulated | None) -> bool:
    if kind == "multipart":
        return not children
    return _is_message(kind, subtype) and message is None


def _parse_multipart(
    raw: bytes, start: int, end: int, boundary: str, digest: bool, depth: int, budget: _Budget
) -> tuple[Part, ...]:
    ranges: list[tuple[int, int]] = []
    for dash_boundary in _boundary_bytes(boundary):
        ranges = ranges or _split_multipart(raw, start, end, dash_boundary)
    if not ranges:  # RFC 9051 needs at least one part: an empty text/plain, like Dovecot
        return (Part(end, end, end, params=_US_ASCII),)
    room = max(1, budget.parts_left)
    if len(ranges) > room:  # the rest of the multipart goes into the last part we allow
        ranges = [*ranges[: room - 1], (ranges[room - 1][0], ranges[-1][1])]
    return tuple(_parse_entity(raw, first, last, digest, depth, budget)[1] for first, last in ranges)


def _boundary_bytes(boundary: str) -> list[bytes]:
    """ "--boundary" as bytes. A non-ASCII boundary (illegal, RFC 2046 5.1.1) came from a header
    read as UTF-8 or as Latin-1 (see ``charsets``), so either encoding may give back its bytes."""
    if not boundary:
        return []
    candidates = [b"--" + boundary.encode("utf-8", "replace")]
    if not boundary.isascii() and max(boundary) <= "\xff":
        candidates.append(b"--" + boundary.encode("latin-1"))
    return candidates


def _split_multipart(raw: bytes, start: int, end: int, dash_boundary: bytes) -> list[tuple[int, int]]:
    """The (start, end) byte ranges of the body parts between the delimiters ``dash_boundary``."""
    ranges: list[tuple[int, int]] = []
    part_start: int | None = None
    pos = start
    while (found := raw.find(dash_boundary, pos, end)) != -1:
        pos = found + 1
        if found != start and raw[found - 1] != 0x0A:  # not at the start of a line
            continue
        after = found + len(dash_boundary)
        closing = raw.startswith(b"--", after, end)
        line_end = _PADDING_EOL.match(raw, after + 2 if closing else after, end)
        if line_end is None:  # "--boundaryX": a longer boundary, or text that starts alike
            continue
        if part_start is not None:
            ranges.append((part_start, _before_eol(raw, part_start, found)))
        if closing:
            return ranges
        part_start = pos = line_end.end()
    if part_start is not None:
        ranges.append((part_start, end))
    return ranges


def _before_eol(raw: bytes, floor: int, delimiter: int) -> int:
    """Where a part ends: before the CRLF (or LF) that starts the delimiter line, never below floor."""
    stop = delimiter
    if stop > floor and raw[stop - 1] == 0x0A:
        stop -= 1
        if stop > floor and raw[stop - 1] == 0x0D:
            stop -= 1
    return stop
