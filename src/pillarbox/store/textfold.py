"""The one folding of text for search: case- and accent-insensitive (RFC 9051 6.4.4, i;unicode-casemap).

Delivery folds the indexed text with ``fold`` and SEARCH folds the needle with the same function,
so "CAFÉ", "café" and "cafe" all find each other. Folding: ``str.casefold`` (ß → ss, Σ/σ/ς → σ),
then compatibility decomposition (NFKD: "ﬁ" → "fi", "é" → "e" + U+0301), then every combining mark
dropped. ASCII text is only casefolded (the common case stays fast).

Rows indexed before accent folding existed (schema before this change) hold casefolded text with
their accents; ``needles`` gives the search both spellings, so an accented needle still finds
them. Only the reverse (an unaccented needle against an old accented row) misses until
the message text is indexed again (a reindex command is future work; new deliveries are folded).
"""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    if text.isascii():
        return text.casefold()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    # the distinct characters are few: delete each combining mark among them with one C-speed replace
    for mark in {c for c in set(decomposed) if unicodedata.combining(c)}:
        decomposed = decomposed.replace(mark, "")
    return decomposed


def needles(needle: str) -> tuple[str, ...]:
    """The folded needle, plus the casefolded one for rows indexed before accent folding."""
    folded, legacy = fold(needle), needle.casefold()
    return (folded,) if folded == legacy else (folded, legacy)
