"""Substring search from a word index: how a SEARCH needle becomes lookups of terms, and when to check.

IMAP SEARCH BODY/TEXT is substring matching on folded text (RFC 9051 6.4.4): "voic" must find
"invoice". The naive index is one of trigrams with their positions: any substring of three characters
or more is a run of consecutive trigrams, so the index alone answers exactly; but it stores about one
position per character and weighed three times the mail it indexed. A word index is about a tenth of
that, and this module bridges the gap between words and substrings:

- the folded text is cut into *terms*: maximal runs of word characters (letters and digits), except
  that each character of the scripts written without spaces (CJK, kana, Thai, ...) is a term alone,
  so a sentence of Chinese is not one huge term; everything else separates terms;
- the needle is cut by the same rule into *pieces*. When the needle is a single piece with nothing
  around it, every occurrence lies inside one term of the text: the messages containing it are exactly
  those holding a term that contains it, answered from the index alone (the common case: a word or a
  part of one);
- otherwise (several pieces, a separator at either end, no word character at all) each piece says
  which terms can hold it (the first must end with it, the middle ones equal, the last start with it,
  bounded where a separator stands next to it), the index gives the messages holding such terms in
  that order, and each of those candidates is checked against its stored text.

The rule must never change under an existing index: the index forgets a message by repeating the
terms it was given, so changing ``TERM`` needs a migration that rebuilds the index.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# scripts written without spaces between words: each character is a term of its own
_SINGLE = (
    "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uf900-\ufaff\U00020000-\U0003ffff"
)
TERM = re.compile(f"[{_SINGLE}]|[^\\W_{_SINGLE}]+")
# On ASCII text a term is a run of [A-Za-z0-9]: with every other byte made a space, split() cuts
# exactly those runs, four times faster than a regex's findall (both steps run in C, no match objects).
_ASCII_SEPARATORS = bytes(byte if byte < 128 and chr(byte).isalnum() else 0x20 for byte in range(256))


def terms(text: str) -> list[str]:
    """The terms of folded ``text``, in order."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_SEPARATORS).decode("ascii").split()
    return TERM.findall(text)


def term_list(found: list[str]) -> str:
    """Terms joined by spaces: what the index's tokenizer is given (and repeats at deletion)."""
    return " ".join(found)


@dataclass(frozen=True)
class Piece:
    """One run of word characters of the needle, and whether a separator (or another piece) stands right
    before it and right after it: there the term of the text that holds it must begin or end."""

    text: str
    bounded_left: bool
    bounded_right: bool

    def glob(self) -> str:
        """A GLOB pattern of the terms that can hold this piece: equal to it where bounded on both
        sides, else starting or ending with it, else containing it (terms hold no ``*?[``)."""
        return ("" if self.bounded_left else "*") + self.text + ("" if self.bounded_right else "*")


@dataclass(frozen=True)
class Plan:
    needle: str
    pieces: tuple[Piece, ...]

    @property
    def exact(self) -> bool:
        """True when the terms that fit the one piece are the whole answer (nothing to check)."""
        return len(self.pieces) == 1 and not self.pieces[0].bounded_left and not self.pieces[0].bounded_right


def plan(folded_needle: str) -> Plan:
    found = list(TERM.finditer(folded_needle))
    last = len(found) - 1
    pieces = tuple(
        Piece(match.group(), bounded_left=index > 0 or match.start() > 0,
              bounded_right=index < last or match.end() < len(folded_needle))
        for index, match in enumerate(found)
    )
    return Plan(folded_needle, pieces)


def quote(term: str) -> str:
    """A term as an FTS5 string (terms never hold a double quote: it separates terms)."""
    return f'"{term}"'


def phrase_queries(plan: Plan, first_terms: Iterable[str], most: int) -> list[str]:
    """FTS5 phrases whose matches include every message where the pieces stand in order: one phrase per
    term that can hold the first piece (at most ``most`` of them; past that the first piece is left out),
    then the middle pieces, then the last as a prefix unless it must end there too."""
    pieces = plan.pieces
    last = pieces[-1]
    tail = [p.text for p in pieces[1:]]
    star = "" if last.bounded_right else " *"
    firsts = sorted(first_terms)
    if len(firsts) > most:
        return [f'"{" ".join(tail)}"{star}']
    return [f'"{" ".join([first, *tail])}"{star}' for first in firsts]
