"""BODY[section] and BINARY[section] as slices of the stored bytes (RFC 9051 6.4.5).

Everything is located by the offsets the MIME parser stored at delivery (principle 3): a section is
a slice of the raw message, never a re-parse. Part numbering: part 1 of a non-multipart message is
its body; HEADER and TEXT of a message/rfc822 part address the encapsulated message; MIME is the
part's own header. HEADER.FIELDS (and .NOT) filter the header block field by field, keeping the
fields' original bytes (folding included) and the blank line that ends the block, as Dovecot and
Cyrus do. A section that names a part that does not exist is answered with an empty string.
"""

from __future__ import annotations

from pillarbox.imap.parser.fetch_att import Section
from pillarbox.mime import ParsedMessage, Part, decode_body, find_part
from pillarbox.mime.headers import split_raw_fields


def _target(parsed: ParsedMessage, section: Section) -> Part | None:
    if not section.part:
        return parsed.root
    return find_part(parsed.root, ".".join(map(str, section.part)))


def section_bytes(raw: bytes, parsed: ParsedMessage, section: Section) -> bytes:
    part = _target(parsed, section)
    if part is None:
        return b""
    text = section.text
    if text is None:
        return raw if not section.part else raw[part.body_start : part.body_end]
    if text == "MIME":
        return raw[part.header_start : part.header_end] if section.part else b""
    message = part if not section.part else (part.message.root if part.message else None)
    if message is None:
        return b""
    if text == "TEXT":
        return raw[message.body_start : message.body_end]
    header = raw[message.header_start : message.header_end]
    if text == "HEADER":
        return header
    return filter_header(header, section.fields, exclude=text == "HEADER.FIELDS.NOT")


def filter_header(header: bytes, fields: tuple[str, ...], exclude: bool) -> bytes:
    wanted = {f.lower().encode() for f in fields}
    kept = [field for field in split_raw_fields(header) if (_name(field) in wanted) != exclude]
    # RFC 9051 6.4.5: the blank line ending the header is part of it, unless the message has none
    # (no body and no blank line): then there is none to return either
    ends_blank = header.endswith((b"\r\n\r\n", b"\n\n")) or header in (b"\r\n", b"\n")
    return b"".join(kept) + (b"\r\n" if ends_blank else b"")


def _name(field: bytes) -> bytes:
    return field.split(b":", 1)[0].strip().lower()


def binary_bytes(raw: bytes, parsed: ParsedMessage, section: Section) -> bytes | None:
    """BINARY[section] (RFC 3516): the part's content with its transfer encoding undone.

    None when the part does not exist. Only leaf parts (and the whole message) have a binary form.
    """
    part = _target(parsed, section)
    if part is None:
        return None
    if not section.part:
        return raw
    return decode_body(raw, part)


def binary_part(parsed: ParsedMessage, section: Section) -> Part | None:
    return _target(parsed, section)
