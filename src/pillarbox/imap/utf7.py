"""Modified UTF-7 for IMAP mailbox names (RFC 3501 5.1.3; RFC 9051 keeps it for IMAP4rev1 clients).

The problem: IMAP4rev1 mailbox names are 7-bit, yet people name folders "Entwürfe". RFC 3501 picks
a variant of UTF-7 (RFC 2152): printable US-ASCII stands for itself, except "&" which is "&-";
everything else is UTF-16BE, base64-encoded with "," instead of "/", no padding, between "&" and "-".

The naive decoder is lenient and accepts several spellings of one name ("&AGE-" for "a", two
adjacent encoded runs, non-zero padding bits), which lets two different wire names reach one folder
and makes the encoding non-canonical. RFC 3501 forbids those forms, so ``decode`` is strict and
rejects them with ``ValueError``; ``encode(decode(x)) == x`` holds for every accepted ``x``.
"""

from __future__ import annotations

import base64
import binascii
import re

_B64_RUN = re.compile(r"&([A-Za-z0-9+,]*)-")


def encode(name: str) -> str:
    """The modified UTF-7 form of ``name``."""
    out: list[str] = []
    pending: list[str] = []
    for char in name:
        if "\x20" <= char <= "\x7e":
            if pending:
                out.append(_encode_run("".join(pending)))
                pending.clear()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    if pending:
        out.append(_encode_run("".join(pending)))
    return "".join(out)


def _encode_run(text: str) -> str:
    data = text.encode("utf-16-be", "surrogatepass")
    return "&" + base64.b64encode(data).decode("ascii").rstrip("=").replace("/", ",") + "-"


def decode(wire: str) -> str:
    """The name that ``wire`` encodes; ``ValueError`` for anything RFC 3501 5.1.3 does not allow."""
    out: list[str] = []
    pos, end = 0, len(wire)
    last_was_run = False
    while pos < end:
        char = wire[pos]
        if char != "&":
            if not "\x20" <= char <= "\x7e":
                raise ValueError(f"character {char!r} must be encoded")
            out.append(char)
            pos += 1
            last_was_run = False
            continue
        match = _B64_RUN.match(wire, pos)
        if match is None:
            raise ValueError("unterminated or invalid '&' sequence")
        if not match.group(1):
            out.append("&")
            last_was_run = False
        else:
            if last_was_run:
                raise ValueError("two adjacent encoded sequences")
            out.append(_decode_run(match.group(1)))
            last_was_run = True
        pos = match.end()
    return "".join(out)


def _decode_run(run: str) -> str:
    if len(run) % 8 not in (0, 3, 6):
        raise ValueError("encoded sequence of impossible length")
    padded = run.replace(",", "/") + "=" * (-len(run) % 4)
    try:
        data = base64.b64decode(padded, validate=True)
    except binascii.Error as exc:
        raise ValueError("invalid base64 in encoded sequence") from exc
    if _encode_run_bytes(data) != run:  # non-zero padding bits
        raise ValueError("non-canonical encoded sequence")
    try:
        text = data.decode("utf-16-be")
    except UnicodeDecodeError as exc:
        raise ValueError("invalid UTF-16 in encoded sequence") from exc
    if any("\x20" <= char <= "\x7e" for char in text):
        raise ValueError("printable ASCII must not be encoded")
    return text


def _encode_run_bytes(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=").replace("/", ",")
