"""Turning bytes of unknown or declared charset into str, without ever failing.

Mail declares charsets that Python does not know ("unknown-8bit", "x-user-defined"), lies about them
("us-ascii" over 8-bit text) or declares none at all. Every decoder here falls back the same way:
the declared charset, then UTF-8, then Latin-1, which maps every byte and so cannot fail.
"""

from __future__ import annotations


def decode_bytes(data: bytes) -> str:
    """UTF-8 if the bytes are valid UTF-8 (RFC 6532 headers), else Latin-1 so every byte survives."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def decode_charset(data: bytes, charset: str | None, errors: str = "strict") -> str:
    """Decode ``data`` in ``charset``; unknown charsets and invalid bytes fall back to ``decode_bytes``.

    ``errors="replace"`` keeps the declared charset even when a few bytes are invalid, which is what a
    reader wants for body text; the default falls back to UTF-8/Latin-1 instead.
    """
    if charset:
        try:
            # bytes.decode refuses bytes-to-bytes codecs ("base64", "zlib") with LookupError.
            return data.decode(charset.strip().strip('"').lower(), errors)
        except (LookupError, UnicodeDecodeError, ValueError):
            pass
    return decode_bytes(data)
