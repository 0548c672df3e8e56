"""Writing RFC 2047 encoded words: non-ASCII header text made 7-bit, so that it decodes back exactly.

The rules that matter (RFC 2047):
- an encoded word is at most 75 characters (2) and holds a whole number of characters (5: a
  multi-byte character is never split across two words);
- between two encoded words, whitespace is dropped when decoding (6.2), but between an encoded word
  and plain text it is kept — so a run of words to encode is encoded *with* the spaces inside it;
- in a phrase or a comment only letters, digits and ``!*+-/`` may stand for themselves in "Q" text
  (5 (3)); we use that strictest set everywhere, so one encoder serves text, phrases and comments.

"Q" keeps mostly-ASCII text readable; "B" is shorter for text that is mostly not ASCII (a CJK
character is 9 characters in Q, 4 in B), so each run takes the shorter of the two.
"""

from __future__ import annotations

import base64
import re

MAX_WORD = 75  # RFC 2047 2
_PREFIX_Q, _PREFIX_B, _SUFFIX = "=?UTF-8?Q?", "=?UTF-8?B?", "?="
_Q_LITERAL = re.compile(r"[A-Za-z0-9!*+\-/]")
_TOKENS = re.compile(r"[ \t]+|[^ \t]+")
LINE = 78  # RFC 5322 2.1.1: lines SHOULD be at most 78 characters


def _q_char(char: str) -> str:
    if char == " ":
        return "_"
    if _Q_LITERAL.fullmatch(char):
        return char
    return "".join(f"={byte:02X}" for byte in char.encode("utf-8"))


def _q_words(text: str) -> list[str]:
    room = MAX_WORD - len(_PREFIX_Q) - len(_SUFFIX)
    words, current = [], ""
    for char in text:
        encoded = _q_char(char)
        if current and len(current) + len(encoded) > room:
            words.append(current)
            current = ""
        current += encoded
    words.append(current)
    return [_PREFIX_Q + word + _SUFFIX for word in words]


def _b_words(text: str) -> list[str]:
    room = (MAX_WORD - len(_PREFIX_B) - len(_SUFFIX)) // 4 * 3  # octets whose base64 fits
    words, current = [], b""
    for char in text:
        encoded = char.encode("utf-8")
        if current and len(current) + len(encoded) > room:
            words.append(current)
            current = b""
        current += encoded
    words.append(current)
    return [_PREFIX_B + base64.b64encode(word).decode("ascii") + _SUFFIX for word in words]


def encode_words(text: str) -> list[str]:
    """``text`` as adjacent encoded words (a reader joins them back into ``text`` exactly)."""
    q_words, b_words = _q_words(text), _b_words(text)
    return q_words if sum(map(len, q_words)) <= sum(map(len, b_words)) else b_words


def needs_encoding(token: str) -> bool:
    """A word that cannot stand as itself: not ASCII, or one a reader would take for an encoded word."""
    return not token.isascii() or ("=?" in token and "?=" in token) or len(token) > MAX_WORD


def split_words(text: str) -> list[str]:
    """``text`` as alternating words and runs of whitespace, for ``fold``."""
    return _TOKENS.findall(text)


def encode_text(text: str) -> list[str]:
    """Unstructured text (RFC 2047 5 (1)) as tokens to put on lines: plain words kept, the runs of words
    that need it encoded (with the whitespace inside a run), whitespace between runs kept as it is."""
    tokens = split_words(text)
    out: list[str] = []
    run: list[str] = []
    for token in tokens:
        if token[0] in " \t":
            (run if run else out).append(token)
            continue
        if needs_encoding(token):
            run.append(token)
            continue
        _close_run(out, run)
        out.append(token)
    _close_run(out, run)
    return out


def _close_run(out: list[str], run: list[str]) -> None:
    """Encode the pending run; whitespace after its last word stays plain, outside the words."""
    trailing: list[str] = []
    while run and run[-1][0] in " \t":
        trailing.insert(0, run.pop())
    if run:
        words = encode_words("".join(run))
        out.extend(word for pair in zip(words, [" "] * len(words), strict=True) for word in pair)
        out.pop()
    out.extend(trailing)
    run.clear()


def fold(name: str, tokens: list[str]) -> str:
    """``name: tokens`` as one field of lines of at most LINE characters where the tokens allow, folded
    (CRLF before whitespace, RFC 5322 2.2.3) only at whitespace that a word follows, so that unfolding
    gives the text back and no line is whitespace alone."""
    items = [" ", *tokens] if tokens else []
    lines: list[str] = []
    line = f"{name}:"
    for index, token in enumerate(items):
        following = items[index + 1] if index + 1 < len(items) else ""
        if token[0] in " \t" and following and len(line) + len(token) + len(following) > LINE:
            lines.append(line)
            line = ""
        line += token
    lines.append(line)
    return "\r\n".join(lines) + "\r\n"
