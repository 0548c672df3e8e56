"""The "encoded-character" extension (RFC 5228 2.4.2.4): ``${hex:...}`` and ``${unicode:...}`` in strings.

    encoded-arb-octets   = "${hex:" hex-pair-seq "}"
    encoded-unicode-char = "${unicode:" unicode-hex-seq "}"

Both allow blanks around and between the values, the keywords are case-insensitive. A sequence that
is not well formed is left as it was, as the RFC says; hex octets that are not UTF-8 are refused,
and so is a code point that is a surrogate or above U+10FFFF (it is "an error").
"""

from __future__ import annotations

import re

from pillarbox.sieve.errors import SieveSyntaxError

_BLANK = r"[ \t]|\r?\n"
_ENCODED = re.compile(
    rf"\$\{{(hex|unicode):(?:{_BLANK})*([0-9a-f]+(?:(?:{_BLANK})+[0-9a-f]+)*)(?:{_BLANK})*\}}", re.IGNORECASE
)


def decode_encoded_characters(value: str) -> str:
    if "${" not in value:
        return value
    return _ENCODED.sub(_decode, value)


def _decode(match: re.Match[str]) -> str:
    values = match.group(2).split()
    if match.group(1).lower() == "hex":
        if any(len(v) > 2 for v in values):
            return match.group()
        try:
            return bytes(int(v, 16) for v in values).decode("utf-8")
        except UnicodeDecodeError:
            raise SieveSyntaxError("${hex:...} is not UTF-8") from None
    points = [int(v, 16) if len(v) <= 6 else 0x110000 for v in values]
    if any(p > 0x10FFFF or 0xD800 <= p <= 0xDFFF for p in points):
        raise SieveSyntaxError("${unicode:...} is not a Unicode scalar value")
    return "".join(chr(p) for p in points)
