"""Line endings as stored: mail is kept with CRLF (RFC 5322 2.1), because IMAP and POP3 serve CRLF.

Messages that come from files (mbox, Maildir) or from another MTA's pipe usually have bare LF.
"""

from __future__ import annotations

import re

_LINE_END = re.compile(rb"\r\n|\r|\n")


def to_crlf(data: bytes) -> bytes:
    """Every line ending (CRLF, bare LF, bare CR) as CRLF; bytes otherwise unchanged."""
    if b"\r" not in data:
        return data.replace(b"\n", b"\r\n")  # the common case, much faster than the regex
    return _LINE_END.sub(b"\r\n", data)
