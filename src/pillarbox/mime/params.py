"""MIME header values with parameters: Content-Type and Content-Disposition.

RFC 2045 5.1: ``type "/" subtype *(";" attribute "=" value)``, value a token or a quoted-string,
comments allowed anywhere. RFC 2231 adds continuations (``name*0``, ``name*1``) and charset/language
tagging with percent-encoding (``name*=utf-8'en'%E2%82%AC``). The results here are what IMAP
BODYSTRUCTURE shows: names lowercased, RFC 2231 sections joined and decoded into one ``name``;
RFC 2047 encoded words inside values (a common misuse) are kept raw, as Dovecot does.

Leniency, all seen in real mail: missing ";" between parameters, unquoted values with spaces
(``name=My File.pdf`` → "My File.pdf"), unterminated quotes, attributes with no value (skipped).
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from pillarbox.mime.charsets import decode_charset

Params = tuple[tuple[str, str], ...]

# RFC 2045 5.1: token := 1*<any (US-ASCII) CHAR except SPACE, CTLs, or tspecials>; we also let
# 8-bit characters through so broken unquoted UTF-8 values survive.
_TOKEN = re.compile(r'[^\x00-\x20()<>@,;:\\"/\[\]?=\x7f]+')
# An unquoted value runs to the next ";" (or comment): lenient about spaces inside it.
_LOOSE_VALUE = re.compile(r"[^;(\"]*")
_MAX_SECTIONS = 1000  # RFC 2231 continuation numbers beyond this are treated as junk


def parse_content_type(value: str | None) -> tuple[str, str, Params] | None:
    """(type, subtype, params) lowercased, or None when the field is missing or has no type/subtype.

    RFC 2045 5.2: an invalid Content-Type is treated like a missing one; the caller picks the default.
    """
    if value is None:
        return None
    pos = _skip_cfws(value, 0)
    main = _TOKEN.match(value, pos)
    if main is None:
        return None
    pos = _skip_cfws(value, main.end())
    if not value.startswith("/", pos):
        return None
    sub = _TOKEN.match(value, _skip_cfws(value, pos + 1))
    if sub is None:
        return None
    return main.group().lower(), sub.group().lower(), parse_params(value, sub.end())


def parse_disposition(value: str | None) -> tuple[str, Params] | None:
    """(disposition type lowercased, params) per RFC 2183, or None when missing or empty."""
    if value is None:
        return None
    kind = _TOKEN.match(value, _skip_cfws(value, 0))
    if kind is None:
        return None
    return kind.group().lower(), parse_params(value, kind.end())


def parse_params(value: str, pos: int) -> Params:
    """The ``;``-separated parameters of ``value`` from ``pos`` on, RFC 2231 applied."""
    pairs: list[tuple[str, str]] = []
    end = len(value)
    while (pos := _skip_cfws(value, pos)) < end:
        attr = _TOKEN.match(value, pos)
        if attr is None:  # junk (a stray ";" included): resume after the next ";"
            semi = value.find(";", pos)
            pos = end if semi == -1 else semi + 1
            continue
        pos = _skip_cfws(value, attr.end())
        if not value.startswith("=", pos):
            continue  # an attribute with no value; the junk branch above moves on
        text, pos = _param_value(value, _skip_cfws(value, pos + 1))
        pairs.append((attr.group().lower(), text))
    return _join_rfc2231(pairs)


def _param_value(value: str, pos: int) -> tuple[str, int]:
    if value.startswith('"', pos):
        return read_quoted(value, pos)
    loose = _LOOSE_VALUE.match(value, pos)
    assert loose is not None  # the pattern matches the empty string
    return loose.group().strip(), loose.end()


def read_quoted(value: str, pos: int) -> tuple[str, int]:
    """The content of the quoted-string at ``value[pos] == '"'`` (escapes resolved), and the end.

    An unterminated quoted-string runs to the end of the value.
    """
    out: list[str] = []
    i, end = pos + 1, len(value)
    while i < end:
        char = value[i]
        if char == "\\" and i + 1 < end:
            out.append(value[i + 1])
            i += 2
            continue
        if char == '"':
            return "".join(out), i + 1
        out.append(char)
        i += 1
    return "".join(out), end


def skip_comment(value: str, pos: int) -> int:
    """The offset just past the (possibly nested) comment starting at ``value[pos] == '('``."""
    depth, i, end = 0, pos, len(value)
    while i < end:
        char = value[i]
        if char == "\\":
            i += 2
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return end


def without_comments(value: str) -> str:
    """``value`` with its (possibly nested) comments replaced by a space; an unclosed one runs to the
    end. One pass: a regular expression for this rescans the rest of the value at every "(" it
    cannot close, which is quadratic in a value of many "(".
    """
    out: list[str] = []
    pos = 0
    while (start := value.find("(", pos)) != -1:
        out.append(value[pos:start])
        out.append(" ")
        pos = skip_comment(value, start)
    out.append(value[pos:])
    return "".join(out)


def _skip_cfws(value: str, pos: int) -> int:
    end = len(value)
    while pos < end:
        char = value[pos]
        if char in " \t\r\n":
            pos += 1
        elif char == "(":
            pos = skip_comment(value, pos)
        else:
            break
    return pos


def _join_rfc2231(pairs: list[tuple[str, str]]) -> Params:
    """Apply RFC 2231: join ``name*N`` sections, decode ``name*`` values; first occurrence wins.

    When a sender gives both ``name`` and ``name*`` (for old readers), the RFC 2231 form wins
    because it is the exact one; the parameter keeps the position of whichever came first.
    """
    order: list[str] = []
    plain: dict[str, str] = {}
    sections: dict[str, dict[int, tuple[str, bool]]] = {}
    for name, text in pairs:
        base, section, extended = _split_name(name)
        if base not in plain and base not in sections:
            order.append(base)
        if section is None and not extended:
            plain.setdefault(base, text)
        else:
            sections.setdefault(base, {}).setdefault(-1 if section is None else section, (text, extended))
    return tuple((base, _decode_sections(sections[base]) if base in sections else plain[base]) for base in order)


def _split_name(name: str) -> tuple[str, int | None, bool]:
    """``title*1*`` → ("title", 1, True); names that are not RFC 2231 come back whole."""
    base, star, rest = name.partition("*")
    if not star or not base:
        return name, None, False
    extended = rest.endswith("*")
    digits = rest[:-1] if extended else rest
    if digits == "":
        return (base, None, True) if rest == "" else (name, None, False)
    if digits.isdigit() and digits.isascii() and int(digits) < _MAX_SECTIONS:
        return base, int(digits), extended
    return name, None, False


def _decode_sections(sections: dict[int, tuple[str, bool]]) -> str:
    """RFC 2231 3-4: the charset comes from the first section; percent-decoded octets of all
    extended sections are joined before decoding, since a character may straddle two sections."""
    charset = ""
    data = bytearray()
    for index, (text, extended) in enumerate(sections[key] for key in sorted(sections)):
        if not extended:
            data += text.encode("utf-8")
            continue
        if index == 0 and text.count("'") >= 2:
            charset, _language, text = text.split("'", 2)
        data += unquote_to_bytes(text)
    return decode_charset(bytes(data), charset)
