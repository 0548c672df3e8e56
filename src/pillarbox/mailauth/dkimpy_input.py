"""What dkimpy is given to verify: the message with a header section its parser accepts.

The problem. dkimpy's ``rfc822_parse`` refuses header lines that real mail carries: a field with
whitespace before its colon (``X-Obs : v``, RFC 5322 4.5.8 obsolete syntax), a line without a colon,
a name with 8-bit bytes, or a continuation line before the first field (IndexError). The exception
escaped our verifiers and the MX answered 451 on every retry: the message never arrived.

Each of these lines is handled the way ``mime.headers.parse_fields`` (our own reading of the message)
handles it, so that dkimpy and we agree on which fields exist and in which order (signature ``idx``):

- a line that does not start a field (no colon, bad name) is junk, and so are the continuation lines
  that follow it: it is dropped. It is no header field, so no ``h=`` can select it and no signature
  can cover it (RFC 6376 5.4.2 selects fields by name).
- ``Name WSP ":"`` becomes ``Name ":"`` with the whitespace moved after the colon. RFC 6376 3.4.2
  relaxed canonicalization deletes whitespace on both sides of the colon, so a relaxed signature
  over such a field verifies exactly as before; a ``simple`` one over it cannot (the octets differ),
  which is the fail a signer using ``simple`` on obsolete syntax risks anyway.

Lines are split as dkimpy splits them (CRLF or LF; a lone CR is text), and only the header section
(up to the first empty line, ``find_body_start``) is looked at: the body goes through untouched.
"""

from __future__ import annotations

import re

from pillarbox.mime.headers import find_body_start

# RFC 5322 3.6.8: field-name = 1*ftext (printable ASCII but ":"), then 4.5.8's optional WSP.
_FIELD_START = re.compile(rb"([\x21-\x39\x3b-\x7e]+)([ \t]*):")


def dkimpy_input(message: bytes) -> bytes:
    """``message`` with junk header lines dropped and obsolete ``Name :`` fields respelled."""
    end = find_body_start(message, 0, len(message))
    lines = message[:end].split(b"\n")
    kept: list[bytes] = []
    in_field = False
    for number, line in enumerate(lines):
        eol = b"\n" if number < len(lines) - 1 else b""
        text = line.removesuffix(b"\r")
        if not text:
            kept.append(line + eol)
            continue
        if text[:1] in (b" ", b"\t"):
            if in_field:
                kept.append(line + eol)
            continue
        match = _FIELD_START.match(line)
        in_field = match is not None
        if match is not None:
            kept.append(match.group(1) + b":" + match.group(2) + line[match.end():] + eol)
    header = b"".join(kept)
    return message if header == message[:end] else header + message[end:]
