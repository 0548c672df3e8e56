"""The i;unicode-casemap collation (RFC 5051), which SORT and THREAD compare strings with.

RFC 5051 2 prepares a string code point by code point: its titlecase mapping from UnicodeData.txt,
then its decomposition (canonical or compatibility), again until nothing changes; the results
compare as octets (code point order here, which UTF-8 keeps). Titlecase, not lowercase, is the
point: "a" and "A" both become "A", so "_" (0x5F) and "[" (0x5B) sort after every letter, where a
lowercasing collation would put them before. "É" becomes "E" and a combining acute, so it sorts with
the E's.

Python has no simple (one code point) titlecase mapping, only the full one (``str.title``), which
differs exactly where it gives several code points ("ß" → "Ss"): there the simple mapping is the
code point itself. Each code point is prepared once and remembered: a mailbox has few distinct ones.
"""

from __future__ import annotations

import unicodedata


def casemap(text: str) -> str:
    """The "titlecased canonicalized" form of ``text`` (RFC 5051 2)."""
    if text.isascii():
        return text.upper()  # titlecase is uppercase in ASCII, which nothing decomposes
    return text.translate(_PREPARED)


class _Prepared(dict[int, str]):
    """Code point → its prepared form, filled as code points are met."""

    def __missing__(self, code: int) -> str:
        prepared = self[code] = _prepare(chr(code))
        return prepared


def _prepare(char: str) -> str:
    text = char
    while True:
        titled = "".join(_titlecase(one) for one in text)
        decomposed = unicodedata.normalize("NFKD", titled)
        if decomposed == text:
            return text
        text = decomposed


def _titlecase(char: str) -> str:
    titled = char.title()
    return titled if len(titled) == 1 else char


_PREPARED = _Prepared()
