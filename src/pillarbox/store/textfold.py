"""The one folding of text for search: case- and accent-insensitive (RFC 9051 6.4.4, i;unicode-casemap).

Delivery folds the indexed text with ``fold`` and SEARCH folds the needle with the same function,
so "CAFÉ", "café" and "cafe" all find each other. Folding: ``str.casefold`` (ß → ss, Σ/σ/ς → σ),
then compatibility decomposition (NFKD: "ﬁ" → "fi", "é" → "e" + U+0301), then every combining mark
dropped, and the ASCII capitals that decomposition can make ("ℍ" → "H") lowered. ASCII text is only
casefolded (the common case stays fast). Every character is folded on its own, so a substring of a
text folds to a substring of the folded text.
"""

from __future__ import annotations

import re
import unicodedata

_ASCII_CAPITALS = re.compile("[A-Z]+")


def fold(text: str) -> str:
    if text.isascii():
        return text.casefold()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    # the distinct characters are few: delete each combining mark among them with one C-speed replace
    for mark in {c for c in set(decomposed) if unicodedata.combining(c)}:
        decomposed = decomposed.replace(mark, "")
    return _ASCII_CAPITALS.sub(lambda capitals: capitals.group().lower(), decomposed)
