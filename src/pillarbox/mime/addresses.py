"""RFC 5322 3.4 address lists, parsed into IMAP ENVELOPE addresses (RFC 9051 7.5.2).

An IMAP address is (name, adl, mailbox, host). The name is the display phrase with quotes removed
but encoded words kept (IMAP sends it raw); adl is the obsolete source route ("@a,@b"); a group
is framed by a start marker (mailbox = group name, host = NIL) and an end marker (all NIL).

The grammar is simple; the mail is not. So this is a tokenizer plus a forgiving reader rather than
a strict parser: stray specials are skipped, a missing domain becomes ".MISSING-HOST-NAME." (the
UW-IMAP/Dovecot convention, since a NIL host would read as a group marker), a comment serves as
the name when there is no phrase ("a@b (Alice)", as Dovecot does), an unclosed "<" or group is
closed at the end. Non-ASCII (RFC 6532) is just more atom text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pillarbox.mime.params import read_quoted, skip_comment

MISSING_HOST = ".MISSING-HOST-NAME."
# atext plus "." (dot-atoms and obs-phrase "J. Smith" stay one token): anything but specials/space.
_ATOM = re.compile(r'[^\s()<>\[\]:;@\\,"]+')
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\x80-\U0010ffff-]+"  # RFC 5322 3.2.3, RFC 6532 3.2 for non-ASCII
_DOT_ATOM = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*")

Token = tuple[str, str]  # (kind, text): kind "a" atom, "q" quoted, "c" comment, "d" literal, or a special


@dataclass(frozen=True)
class Address:
    """One IMAP ENVELOPE address; see the module doc for group markers."""

    name: str | None
    adl: str | None
    mailbox: str | None
    host: str | None

    @property
    def is_group_start(self) -> bool:
        return self.mailbox is not None and self.host is None

    @property
    def is_group_end(self) -> bool:
        return self.mailbox is None and self.host is None

    @property
    def addr_spec(self) -> str:
        """ "mailbox@host" (just the mailbox when the host was missing); "" for group markers."""
        if self.host is None or self.mailbox is None:
            return ""
        return self.mailbox if self.host == MISSING_HOST else f"{self.mailbox}@{self.host}"


GROUP_END = Address(None, None, None, None)


def parse_address_list(value: str | None) -> tuple[Address, ...]:
    """All addresses in ``value`` (an unfolded header value); () for None or nothing usable."""
    if not value:
        return ()
    tokens = _tokenize(value)
    out: list[Address] = []
    in_group, pos = False, 0
    while pos < len(tokens):
        kind = tokens[pos][0]
        if kind in ",;>":
            if kind == ";" and in_group:
                out.append(GROUP_END)
                in_group = False
            pos += 1
            continue
        pos, item = _read_one(tokens, pos, allow_group=not in_group)
        if item is not None:
            out.append(item)
            in_group = in_group or item.is_group_start
    if in_group:
        out.append(GROUP_END)
    return tuple(out)


def _tokenize(value: str) -> list[Token]:
    tokens: list[Token] = []
    pos, end = 0, len(value)
    while pos < end:
        char = value[pos]
        if char.isspace():
            pos += 1
        elif char == '"':
            text, pos = read_quoted(value, pos)
            tokens.append(("q", text))
        elif char == "(":
            stop = skip_comment(value, pos)
            tokens.append(("c", value[pos + 1 : stop - 1].strip()))
            pos = stop
        elif char == "[":
            close = value.find("]", pos)
            stop = end if close == -1 else close + 1
            tokens.append(("d", value[pos:stop]))
            pos = stop
        elif (atom := _ATOM.match(value, pos)) is not None:
            tokens.append(("a", atom.group()))
            pos = atom.end()
        else:  # a special; a lone backslash or "]" is junk and skipped later
            tokens.append((char, char))
            pos += 1
    return tokens


def _read_one(tokens: list[Token], pos: int, allow_group: bool) -> tuple[int, Address | None]:
    """One mailbox, or a group start, from ``pos``; stops before the "," or ";" that ends it."""
    words: list[Token] = []
    comments: list[str] = []
    while pos < len(tokens):
        kind, text = tokens[pos]
        if kind in ",;":
            break
        if kind == "<":
            return _read_angle(tokens, pos + 1, _phrase(words) or _first(comments))
        if kind == "@":
            pos, host = _read_domain(tokens, pos + 1, comments)
            pos = _skip_to_separator(tokens, pos, comments)
            return pos, Address(_first(comments), None, _local_part(words), host or MISSING_HOST)
        if kind == ":" and allow_group and words:
            return pos + 1, Address(None, None, _phrase(words) or "", None)
        if kind in "aqd":
            words.append((kind, text))
        elif kind == "c":
            comments.append(text)
        pos += 1
    if not words:
        return pos, None
    return pos, Address(_first(comments), None, _local_part(words), MISSING_HOST)


def _read_angle(tokens: list[Token], pos: int, name: str | None) -> tuple[int, Address | None]:
    """The inside of ``<[route:]local@domain>``; an unclosed "<" ends at the next "," or ";"."""
    pos, adl = _read_route(tokens, pos)
    words: list[Token] = []
    host: str | None = None
    while pos < len(tokens) and tokens[pos][0] not in ">,;":
        kind, text = tokens[pos]
        if kind == "@" and host is None:
            pos, host = _read_domain(tokens, pos + 1, [])
            continue
        if kind in "aq":
            words.append((kind, text))
        pos += 1
    pos = _skip_to_separator(tokens, pos, [])
    if not words and host is None:  # "<>": the null address, kept so it is visible
        return pos, Address(name, adl, "", "")
    return pos, Address(name, adl, _local_part(words), host or MISSING_HOST)


def _read_route(tokens: list[Token], pos: int) -> tuple[int, str | None]:
    """RFC 5322 4.4 obs-route ``@a,@b:`` before the address; returns the adl as IMAP shows it."""
    if pos >= len(tokens) or tokens[pos][0] != "@":
        return pos, None
    stop = pos
    while stop < len(tokens) and tokens[stop][0] not in ":>":
        stop += 1
    if stop >= len(tokens) or tokens[stop][0] != ":":
        return pos, None
    adl = "".join(text for kind, text in tokens[pos:stop] if kind != "c")
    return stop + 1, adl


def _read_domain(tokens: list[Token], pos: int, comments: list[str]) -> tuple[int, str | None]:
    """The domain after "@": atoms and literals up to the next special; comments go to ``comments``."""
    parts: list[str] = []
    while pos < len(tokens) and tokens[pos][0] in "adc":
        (comments if tokens[pos][0] == "c" else parts).append(tokens[pos][1])
        pos += 1
    return pos, "".join(parts) or None


def _skip_to_separator(tokens: list[Token], pos: int, comments: list[str]) -> int:
    """Skip what follows an address up to the next "," or ";", keeping comments (for the name)."""
    while pos < len(tokens) and tokens[pos][0] not in ",;":
        if tokens[pos][0] == "c":
            comments.append(tokens[pos][1])
        pos += 1
    return pos


def _local_part(words: list[Token]) -> str:
    """Words joined as a local-part; a quoted one keeps its quotes unless it is a plain dot-atom."""
    return "".join(text if kind != "q" or _DOT_ATOM.fullmatch(text) else _quote(text) for kind, text in words)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _phrase(words: list[Token]) -> str | None:
    return " ".join(text for _kind, text in words) or None


def _first(comments: list[str]) -> str | None:
    return next((text for text in comments if text), None)
