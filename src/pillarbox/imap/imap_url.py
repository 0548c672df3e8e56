"""The IMAP URLs CATENATE takes (RFC 4469 3, RFC 5092): a message or a part of one on this server.

Only the relative form that names a message by path is taken (RFC 4469 3: no scheme, no server; the
base is this user's "imap://user@server/"):

    "/" enc-mailbox [";UIDVALIDITY=" nz-number] "/;UID=" nz-number
        ["/;SECTION=" enc-section] ["/;PARTIAL=" number ["." nz-number]]

``enc-mailbox`` and ``enc-section`` are percent-encoded (RFC 5092 6: the mailbox name in UTF-8); the
keywords are case-insensitive. Anything else is refused (the command answers NO [BADURL]).
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

_URL = re.compile(
    r"/(?P<mailbox>[^;/?#]+(?:/[^;/?#]+)*?)(?:;UIDVALIDITY=(?P<uidvalidity>[1-9][0-9]{0,9}))?"
    r"/;UID=(?P<uid>[1-9][0-9]{0,9})(?:/;SECTION=(?P<section>[^/?#]+))?"
    r"(?:/;PARTIAL=(?P<offset>[0-9]{1,10})(?:\.(?P<length>[1-9][0-9]{0,9}))?)?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class MessageURL:
    mailbox: str
    uid: int
    uidvalidity: int | None = None
    section: str | None = None
    """The section spec as in FETCH BODY[...] ("1.MIME", "HEADER.FIELDS (SUBJECT)"), decoded."""
    partial: tuple[int, int | None] | None = None


def parse_message_url(text: str) -> MessageURL:
    """The message URL ``text`` names; ValueError when it is not one of the form above."""
    found = _URL.fullmatch(text)
    if found is None:
        raise ValueError("not a relative IMAP message URL")
    mailbox = urllib.parse.unquote(found["mailbox"], errors="strict")
    section = urllib.parse.unquote(found["section"], errors="strict") if found["section"] else None
    partial = None
    if found["offset"] is not None:
        partial = (int(found["offset"]), int(found["length"]) if found["length"] else None)
    uidvalidity = int(found["uidvalidity"]) if found["uidvalidity"] else None
    return MessageURL(mailbox, int(found["uid"]), uidvalidity, section, partial)
