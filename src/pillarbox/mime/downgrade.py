"""Post-delivery downgrading (RFC 6857): a copy of an internationalized message for a legacy client.

The problem. A message received with SMTPUTF8 may carry UTF-8 in its header fields (RFC 6532). A
POP3 client that did not issue UTF8 (RFC 6856 2.1) must not be sent them: the server "MUST either
send the client a surrogate message ... or fail the request". Failing the request (-ERR [UTF8]) means
those users never get the message (mpop fails on every run, fetchmail skips it), so we send a
surrogate: the same message with a 7-bit header section, built field by field as RFC 6857 3 does.

- Fields that are ASCII already keep their exact octets (and folding).
- Address fields (From, To, Cc, Reply-To, Return-Path, the Resent- ones...): a display name becomes
  encoded words (RFC 2047 5 (3)); an address whose only non-ASCII part is the domain gets its
  A-labels (punycode, after lower-casing and NFC); an address with a UTF-8 local part cannot be
  written in ASCII, so it becomes an empty group whose name is the original text, encoded:
  ``=?UTF-8?Q?J=C3=B6rg_=3Cj=C3=B6rg=40example=2Eorg=3E?= :;`` (RFC 6857 3.1.x and its Appendix A;
  Return-Path too, as the appendix shows). A group cannot be nested, so inside a group such a member
  moves into an encoded comment after the ``;``.
- Message-ID, In-Reply-To and References with non-ASCII become Downgraded-Message-Id,
  Downgraded-In-Reply-To and Downgraded-References (RFC 6857 3.x), the value as encoded words.
- Received: a ``for`` clause with a UTF-8 address is removed (it is a trace, not text to read).
- Content-Type and Content-Disposition: non-ASCII parameter values in RFC 2231 form
  (``name*=UTF-8''Gr%C3%BC%C3%9Fe.pdf``; encoded words are not allowed in parameters).
- Every other field (Subject, Comments, unknown fields...): the words that need it become encoded
  words, so the text decodes back exactly (RFC 2047 5 (1)).
- A line that is no header field at all (no colon, 8-bit name) and carries 8-bit bytes is dropped.

Bytes that are not UTF-8 are read as Latin-1 (``charsets.decode_bytes``), then written as UTF-8. The
body is sent as it is: 8-bit bodies were always allowed to legacy POP3 clients (8BITMIME), and the
header fields of body parts are left alone (see docs/rfc-status.md).
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from pillarbox.mime.charsets import decode_bytes
from pillarbox.mime.headers import find_body_start, split_raw_fields
from pillarbox.mime.params import parse_content_type, parse_disposition
from pillarbox.mime.rfc2047_encode import encode_text, encode_words, fold, split_words

ADDRESS_FIELDS = frozenset({
    "from", "sender", "reply-to", "to", "cc", "bcc", "resent-from", "resent-sender", "resent-to",
    "resent-cc", "resent-bcc", "resent-reply-to", "return-path", "disposition-notification-to",
})
RENAMED = {"message-id": "Downgraded-Message-Id", "in-reply-to": "Downgraded-In-Reply-To",
           "references": "Downgraded-References"}
_FIELD = re.compile(rb"([\x21-\x39\x3b-\x7e]+)[ \t]*:")
# RFC 5321 4.4 Received: ... [ "for" FWS ( "<" Path ">" / "<" Mailbox ">" ) ]. The lookbehind (rather than
# a leading \s+) keeps the search linear in a long run of whitespace.
_FOR_CLAUSE = re.compile(r"(?<=[ \t])for[ \t]+<?[^\s;<>]*>?", re.IGNORECASE)


def downgrade(message: bytes) -> bytes:
    """``message`` with a 7-bit header section; the same object when it has one already."""
    end = find_body_start(message, 0, len(message))
    if message[:end].isascii():
        return message
    fields = split_raw_fields(message[:end])  # linear in a field's lines, and no 8-bit field hides behind a CR
    rest = sum(map(len, fields))  # the empty line and the body
    return b"".join(_field(raw) for raw in fields) + message[rest:]


def _field(raw: bytes) -> bytes:
    if raw.isascii():
        return raw
    match = _FIELD.match(raw)
    if match is None:
        return b""  # junk with 8-bit bytes: no field, nothing a reader could use
    name = match.group(1).decode("ascii")
    value = re.sub(r"\r?\n", "", decode_bytes(raw[match.end():])).strip(" \t")
    return downgrade_field(name, value).encode("ascii")


def downgrade_field(name: str, value: str) -> str:
    """One field (unfolded ``value``) as 7-bit lines, CRLF-terminated."""
    key = name.lower()
    if key in ADDRESS_FIELDS:
        return fold(name, split_words(address_list(value)))
    if key in RENAMED:
        return fold(RENAMED[key], encode_text(value))
    if key == "received":
        value = _without_utf8_for_clause(value)
    elif key in ("content-type", "content-disposition"):
        rebuilt = _with_rfc2231_params(key, value)
        if rebuilt is not None and rebuilt.isascii():
            return fold(name, split_words(rebuilt))
    return fold(name, encode_text(value))


def _without_utf8_for_clause(value: str) -> str:
    kept, position = [], 0
    for clause in _FOR_CLAUSE.finditer(value):
        if not clause.group().isascii():
            kept.append(value[position:clause.start()].rstrip(" \t"))
            position = clause.end()
    kept.append(value[position:])
    return "".join(kept)


# -- address lists ---------------------------------------------------------------------------------------


def split_addresses(text: str, groups: bool = True) -> list[str]:
    """``text`` split at the commas outside quotes, comments, <...> and (with ``groups``) "name: ...;"."""
    items, start, depth, angle, quoted, group = [], 0, 0, False, False, False
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if quoted:
            quoted = char != '"'
        elif char in "()":
            depth = depth + 1 if char == "(" else max(depth - 1, 0)
        elif not depth:
            quoted = char == '"'
            angle = {"<": True, ">": False}.get(char, angle)
            group = {":": True, ";": False}.get(char, group) if groups and not angle else group
            if char == "," and not angle and not group:
                items.append(text[start:index])
                start = index + 1
        index += 1
    items.append(text[start:])
    return [item.strip() for item in items if item.strip()]


def address_list(value: str) -> str:
    """An address-list (RFC 5322 3.4) with every address made ASCII as the module doc says."""
    return ", ".join(_address(item) for item in split_addresses(value))


def _address(item: str) -> str:
    if item.isascii():
        return item
    head, colon, members = item.partition(":")
    if colon and not any(c in head for c in '<"('):
        return _group(head.strip(), members.strip().removesuffix(";"))
    return _mailbox(item, in_group=False)


def _group(name: str, members: str) -> str:
    kept, moved = [], []
    for member in split_addresses(members, groups=False):
        converted = _mailbox(member, in_group=True)
        (moved if converted.startswith("(") else kept).append(converted)
    return f"{_phrase(name)}: {', '.join(kept)};" + "".join(f" {m}" for m in moved)


_ANGLE_ADDR = re.compile(r"[^<>()\s\"]*")
_ADDR_SPEC = re.compile(r"[^\s<>()\",;:@]+@[^\s<>()\",;:@]+")


def _mailbox(item: str, in_group: bool) -> str:
    """One mailbox: ASCII as it is, else display name encoded and domain in A-labels where that is
    enough, else (a UTF-8 local part) the RFC 6857 empty group, or a comment inside a group."""
    if item.isascii():
        return item
    opening = item.rfind("<")
    angle = opening >= 0 and item.endswith(">") and _ANGLE_ADDR.fullmatch(item, opening + 1, len(item) - 1)
    if not angle and _ADDR_SPEC.fullmatch(item) is None:
        return _unwritable(item, in_group)
    display, addr = (item[:opening].rstrip(), item[opening + 1:-1]) if angle else ("", item)
    ascii_addr = ascii_address(addr)
    if ascii_addr is None:
        return _unwritable(f"{_unquote(display)} <{addr}>".lstrip() if angle else item, in_group)
    return f"{_phrase(display)} <{ascii_addr}>".lstrip() if angle else ascii_addr


def _unwritable(original: str, in_group: bool) -> str:
    words = " ".join(encode_words(original))
    return f"({words})" if in_group else f"{words} :;"


def ascii_address(addr: str) -> str | None:
    """``addr`` in ASCII: as it is, or with its domain in A-labels; None when the local part is UTF-8."""
    local, at, domain = addr.rpartition("@")
    if not at or not local.isascii():
        return addr if addr.isascii() else None
    labels = unicodedata.normalize("NFC", domain.lower()).split(".")
    if any(len(label) > 63 for label in labels):  # no such DNS label; and punycode is quadratic
        return None
    try:
        return local + "@" + ".".join(
            label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii") for label in labels)
    except UnicodeError:
        return None


def _unquote(display: str) -> str:
    if len(display) >= 2 and display[0] == display[-1] == '"':
        return re.sub(r"\\(.)", r"\1", display[1:-1])
    return display


def _phrase(display: str) -> str:
    """A display name as it is when ASCII, else its text (unquoted) as encoded words."""
    return display if display.isascii() else " ".join(encode_words(_unquote(display.strip())))


# -- MIME parameters (RFC 2231) --------------------------------------------------------------------------


def _with_rfc2231_params(key: str, value: str) -> str | None:
    if key == "content-type":
        parsed = parse_content_type(value)
        if parsed is None:
            return None
        main, params = f"{parsed[0]}/{parsed[1]}", parsed[2]
    else:
        disposition = parse_disposition(value)
        if disposition is None:
            return None
        main, params = disposition
    return main + "".join(f"; {_parameter(name, text)}" for name, text in params)


def _parameter(name: str, text: str) -> str:
    if not text.isascii():
        return f"{name}*=UTF-8''{quote(text, safe='')}"
    return f'{name}="' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
