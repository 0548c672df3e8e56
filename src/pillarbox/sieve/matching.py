"""Comparators and match types (RFC 5228 2.7, RFC 4790, RFC 5231 relational), and ``:matches`` globs.

A glob such as ``*<*@*>`` is where a naive matcher explodes: backtracking over each ``*`` is
exponential in the number of stars on a long header. Ours splits the pattern at its stars into
fixed-length segments (literal characters and ``?``); the first must match at the start, the last at
the end, and each middle one is searched for leftmost after the previous one. Taking the leftmost
place is always safe for a glob (a later match could only leave less room for what follows), so the
work is one left-to-right pass: linear in the text for each segment. It also gives the captures RFC
5229 3.2 asks for: each ``*`` as short as possible from the left (its example: ``[*] *`` on
``[acme-users] [fwd] version 1.0 is out`` gives ``acme-users`` and ``[fwd] version 1.0 is out``).
``\\`` escapes the next character of a pattern (2.7.1).

Every comparison is charged to a budget by the length of what it compares, which is how the
interpreter's "CPU time" limit stays a count, not a clock.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from pillarbox.sieve.compiler import Match
from pillarbox.sieve.errors import LimitExceeded

_ASCII_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_LEADING_DIGITS = re.compile(r"[0-9]+")


class Budget:
    """Work units left before the script is stopped (the interpreter's CPU limit)."""

    def __init__(self, units: int) -> None:
        self.left = units

    def spend(self, units: int = 1) -> None:
        self.left -= units
        if self.left < 0:
            raise LimitExceeded("the script ran too long (step limit)")


@dataclass(frozen=True)
class Outcome:
    matched: bool
    captures: tuple[str, ...] | None = None
    """For a successful ``:matches``: ``${0}`` (the whole value) then one string per wildcard."""


NO_MATCH = Outcome(False)


def fold(comparator: str, text: str) -> str:
    return text.translate(_ASCII_FOLD) if comparator == "i;ascii-casemap" else text


def _numeric(text: str) -> int | None:
    """RFC 4790 9.1.1: the value of the leading digits; None (positive infinity) when there are none."""
    match = _LEADING_DIGITS.match(text)
    return int(match.group()) if match else None


def _order(comparator: str, left: str, right: str) -> int:
    """-1, 0 or 1: how ``left`` compares with ``right`` under the comparator."""
    if comparator == "i;ascii-numeric":
        a, b = _numeric(left), _numeric(right)
        if a is None or b is None:
            return (a is None) - (b is None)
        return (a > b) - (a < b)
    a_text, b_text = fold(comparator, left), fold(comparator, right)
    return (a_text > b_text) - (a_text < b_text)


_RELATIONS = {
    "gt": lambda order: order > 0, "ge": lambda order: order >= 0, "lt": lambda order: order < 0,
    "le": lambda order: order <= 0, "eq": lambda order: order == 0, "ne": lambda order: order != 0,
}


def evaluate(match: Match, values: Sequence[str], keys: Sequence[str], budget: Budget) -> Outcome:
    """Whether any of ``values`` matches any of ``keys`` (RFC 5228 2.7.1: the test is true if one does)."""
    if match.type == "count":
        count = str(len(values))
        relation = _RELATIONS[match.relation or "eq"]
        return Outcome(any(relation(_order(match.comparator, count, key)) for key in keys))
    for value in values:
        for key in keys:
            budget.spend(1 + (len(value) + len(key)) // 256)
            outcome = _one(match, value, key)
            if outcome.matched:
                return outcome
    return NO_MATCH


def _one(match: Match, value: str, key: str) -> Outcome:
    if match.type == "value":
        return Outcome(_RELATIONS[match.relation or "eq"](_order(match.comparator, value, key)))
    if match.type == "is":
        return Outcome(_order(match.comparator, value, key) == 0)
    if match.type == "contains":
        return Outcome(fold(match.comparator, key) in fold(match.comparator, value))
    captures = glob(fold(match.comparator, key), fold(match.comparator, value), value)
    return NO_MATCH if captures is None else Outcome(True, (value, *captures))


@lru_cache(maxsize=512)
def _compile_glob(pattern: str) -> tuple[tuple[re.Pattern[str], ...], tuple[tuple[int, ...], ...], tuple[int, ...]]:
    """The pattern's segments between stars as regexes, where each ``?`` sits in each, and their lengths."""
    segments: list[list[str]] = [[]]
    for index, char in _pattern_chars(pattern):
        if index == -1:
            segments[-1].append(re.escape(char))
        elif char == "*":
            segments.append([])
        else:
            segments[-1].append("?")
    compiled = tuple(re.compile("".join("." if c == "?" else c for c in seg), re.DOTALL) for seg in segments)
    questions = tuple(tuple(i for i, c in enumerate(seg) if c == "?") for seg in segments)
    return compiled, questions, tuple(len(seg) for seg in segments)


def _pattern_chars(pattern: str) -> list[tuple[int, str]]:
    """(kind, char): kind -1 for a literal, 0 for a wildcard ``*`` or ``?``."""
    out: list[tuple[int, str]] = []
    escaped = False
    for char in pattern:
        if escaped:
            out.append((-1, char))
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            out.append((0 if char in "*?" else -1, char))
    return out


def glob(pattern: str, text: str, original: str) -> tuple[str, ...] | None:
    """The wildcard captures when ``text`` matches ``pattern`` (both folded), taken from ``original``."""
    segments, questions, lengths = _compile_glob(pattern)
    if len(segments) == 1:
        if len(text) != lengths[0] or not segments[0].match(text):
            return None
        return tuple(original[i] for i in questions[0])
    tail_start = len(text) - lengths[-1]
    if tail_start < lengths[0] or not segments[0].match(text) or not segments[-1].match(text, tail_start):
        return None
    captures = [original[i] for i in questions[0]]
    pos = lengths[0]
    for segment, places, length in zip(segments[1:-1], questions[1:-1], lengths[1:-1], strict=True):
        found = segment.search(text, pos, tail_start)
        if found is None:
            return None
        captures.append(original[pos : found.start()])
        captures.extend(original[found.start() + i] for i in places)
        pos = found.start() + length
    captures.append(original[pos:tail_start])
    captures.extend(original[tail_start + i] for i in questions[-1])
    return tuple(captures)

