"""RFC 2047 encoded words in header values: ``=?charset?Q?text?=`` and ``=?charset?B?text?=``.

The rules that matter (RFC 2047 5, 6.2): only whitespace between two encoded words is dropped;
other text is kept as is; the charset may carry an RFC 2231 language suffix (``utf-8*en``).
Real mail goes further than the RFC, and we follow what readers do: a multi-byte character split
across two adjacent words of the same charset is joined before decoding (so their bytes are
concatenated first), spaces inside Q text are tolerated, and a word whose charset Python does not
know is left raw rather than guessed at.
"""

from __future__ import annotations

import binascii
import re

from pillarbox.mime.transfer import decode_base64

# encoded-word = "=?" charset ["*" language] "?" encoding "?" encoded-text "?="
_WORD = re.compile(r"=\?([^?*\s]+)(?:\*[^?\s]*)?\?([QqBb])\?([^?]*)\?=")


def decode_header_value(raw: str) -> str:
    """``raw`` with its RFC 2047 encoded words decoded; never raises."""
    if "=?" not in raw:
        return raw
    out: list[str] = []
    pending = bytearray()
    pending_charset = ""
    previous_was_word = False
    pos = 0
    for match in _WORD.finditer(raw):
        gap = raw[pos : match.start()]
        pos = match.end()
        word = _decode_word(match)
        joins = previous_was_word and word is not None and not gap.strip()
        if not joins or (word is not None and word[0] != pending_charset):
            _flush(out, pending, pending_charset)
            if not joins:
                out.append(gap)
        if word is None:
            out.append(match.group())
        else:
            pending_charset = word[0]
            pending += word[1]
        previous_was_word = word is not None
    _flush(out, pending, pending_charset)
    out.append(raw[pos:])
    return "".join(out)


def _decode_word(match: re.Match[str]) -> tuple[str, bytes] | None:
    """(charset, octets) of one encoded word, or None when its charset is unknown."""
    charset, kind, text = match.group(1).lower(), match.group(2).upper(), match.group(3)
    try:
        b"a".decode(charset, "replace")  # LookupError: unknown, or bytes-to-bytes ("base64")
    except LookupError:
        return None
    data = text.encode("ascii", "replace")
    if kind == "B":
        return charset, decode_base64(data)
    return charset, binascii.a2b_qp(data, header=True)  # header=True: "_" is a space (4.2 (2))


def _flush(out: list[str], pending: bytearray, charset: str) -> None:
    if pending:
        out.append(bytes(pending).decode(charset, "replace"))
        pending.clear()
