"""Flags in storage form: the five system flags as a bitmask, keywords as a sorted space-separated string.

The bitmask keeps "unseen" and "deleted" counts and SEARCH on system flags to integer arithmetic.
IMAP flag names are case-insensitive (RFC 9051 2.3.2): system flags are stored canonical, keywords
as given first (later case variants match the stored spelling).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

SEEN, ANSWERED, FLAGGED, DELETED, DRAFT = 1, 2, 4, 8, 16
_BITS = {"\\seen": SEEN, "\\answered": ANSWERED, "\\flagged": FLAGGED, "\\deleted": DELETED, "\\draft": DRAFT}
_NAMES = {SEEN: "\\Seen", ANSWERED: "\\Answered", FLAGGED: "\\Flagged", DELETED: "\\Deleted", DRAFT: "\\Draft"}


def encode(flags: Iterable[str]) -> tuple[int, str]:
    bits = 0
    keywords: dict[str, str] = {}
    for flag in flags:
        bit = _BITS.get(flag.lower())
        if bit is not None:
            bits |= bit
        elif not flag.startswith("\\"):
            keywords.setdefault(flag.lower(), flag)
        # other \-flags (\Recent, unknown) are session state or invalid: never stored
    return bits, " ".join(sorted(keywords.values(), key=str.lower))


@functools.lru_cache(maxsize=4096)
def decode(bits: int, keywords: str) -> frozenset[str]:
    # cached: a mailbox has few distinct flag combinations, and listing 100,000 messages decodes each
    names = [name for bit, name in _NAMES.items() if bits & bit]
    if keywords:
        names.extend(keywords.split(" "))
    return frozenset(names)


def apply(mode: str, current: frozenset[str], change: frozenset[str]) -> frozenset[str]:
    """STORE semantics (RFC 9051 6.4.6), case-insensitive on names."""
    if mode == "replace":
        return change
    lowered = {f.lower() for f in change}
    if mode == "add":
        present = {f.lower() for f in current}
        return current | {f for f in change if f.lower() not in present}
    return frozenset(f for f in current if f.lower() not in lowered)
