"""Sieve's lexical tokens (RFC 5228 8.1), read in one left-to-right pass without recursion.

The grammar's tokens are identifiers, tags (``:name``), numbers with an optional K/M/G quantifier,
quoted strings (``\\`` escapes the next character; an undefined escape is the character itself, 2.4.2),
multi-line strings (``text:`` up to a line holding a single ``.``, with a leading ``..`` unstuffed) and
the specials ``[ ] ( ) { } , ;``. Comments are ``#`` to end of line and ``/* ... */`` (not nested).
The RFC writes CRLF everywhere; scripts written on Unix use LF, so a bare LF ends a line too (as in
Pigeonhole). Every string must be UTF-8 (2.4.2); a NUL is refused as Pigeonhole does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pillarbox.sieve.errors import SieveSyntaxError

SPECIALS = frozenset("[](){},;")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"([0-9]+)([KkMmGg]?)")
_BLANKS = re.compile(r"[ \t\r\n]+")
# one way to match each character, so an unterminated string backtracks linearly
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_QUANTIFIER = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
MAX_NUMBER = (1 << 63) - 1  # RFC 5228 2.4.1: at least 2**31 must work; larger is an error, never a wrap


@dataclass(frozen=True)
class Token:
    kind: str
    """``identifier``, ``tag``, ``number``, ``string`` or the special character itself."""
    value: str | int
    line: int


def tokenize(text: str) -> list[Token]:
    """Every token of ``text`` in order, or SieveSyntaxError naming the line."""
    if "\0" in text:
        raise SieveSyntaxError("NUL character in script", text[: text.index("\0")].count("\n") + 1)
    tokens: list[Token] = []
    pos, line, end = 0, 1, len(text)
    while pos < end:
        char = text[pos]
        if char in " \t\r\n":
            match = _BLANKS.match(text, pos)
            assert match is not None
            line += match.group().count("\n")
            pos = match.end()
        elif char == "#":
            newline = text.find("\n", pos)
            pos = end if newline == -1 else newline
        elif text.startswith("/*", pos):
            close = text.find("*/", pos + 2)
            if close == -1:
                raise SieveSyntaxError("unterminated /* comment", line)
            line += text.count("\n", pos, close)
            pos = close + 2
        elif char in SPECIALS:
            tokens.append(Token(char, char, line))
            pos += 1
        else:
            token, pos, lines = _word(text, pos, line)
            tokens.append(token)
            line += lines
    return tokens


def _word(text: str, pos: int, line: int) -> tuple[Token, int, int]:
    """The token at ``pos`` that is not blank, comment or special: (token, next pos, newlines eaten)."""
    char = text[pos]
    if char == '"':
        value, after = _quoted(text, pos, line)
        return Token("string", value, line), after, text.count("\n", pos, after)
    if char == ":":
        match = _IDENTIFIER.match(text, pos + 1)
        if match is None:
            raise SieveSyntaxError("':' not followed by a tag name", line)
        return Token("tag", match.group().lower(), line), match.end(), 0
    if "0" <= char <= "9":
        return _number(text, pos, line), _NUMBER.match(text, pos).end(), 0  # type: ignore[union-attr]
    match = _IDENTIFIER.match(text, pos)
    if match is None:
        raise SieveSyntaxError(f"unexpected character {char!r}", line)
    word = match.group().lower()
    if word == "text" and text.startswith(":", match.end()):
        value, after = _multiline(text, match.end() + 1, line)
        return Token("string", value, line), after, text.count("\n", pos, after)
    return Token("identifier", word, line), match.end(), 0


def _number(text: str, pos: int, line: int) -> Token:
    match = _NUMBER.match(text, pos)
    assert match is not None
    if len(match.group(1)) > 19:
        raise SieveSyntaxError("number too large", line)
    value = int(match.group(1)) * _QUANTIFIER[match.group(2).lower()]
    if value > MAX_NUMBER:
        raise SieveSyntaxError("number too large", line)
    after = match.end()
    if after < len(text) and _IDENTIFIER.match(text, after):
        raise SieveSyntaxError("a number is followed by letters", line)
    return Token("number", value, line)


def _quoted(text: str, pos: int, line: int) -> tuple[str, int]:
    """RFC 5228 2.4.2: ``\\"`` and ``\\\\`` are the escapes; any other ``\\x`` is ``x``."""
    match = _QUOTED.match(text, pos)
    if match is None:
        raise SieveSyntaxError("unterminated string", line)
    return _ESCAPE.sub(r"\1", match.group(1)), match.end()


def _multiline(text: str, pos: int, line: int) -> tuple[str, int]:
    """``text:`` [blanks] [#comment] EOL, then lines up to one that is exactly ``.`` (2.4.2)."""
    newline = text.find("\n", pos)
    if newline == -1:
        raise SieveSyntaxError("unterminated text: string", line)
    rest = text[pos:newline].rstrip("\r").lstrip(" \t")
    if rest and not rest.startswith("#"):
        raise SieveSyntaxError("text: must be followed by the end of the line", line)
    lines: list[str] = []
    index = newline + 1
    while index < len(text):
        stop = text.find("\n", index)
        if stop == -1:
            stop = len(text)
        body = text[index:stop]
        if body.rstrip("\r") == ".":
            return "".join(lines), stop + 1
        lines.append((body[1:] if body.startswith("..") else body).rstrip("\r") + "\r\n")
        index = stop + 1
    raise SieveSyntaxError("unterminated text: string (no line with a single '.')", line)
