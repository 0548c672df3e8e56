"""ACL commands (RFC 4314 3, 7): SETACL, DELETEACL, GETACL, LISTRIGHTS, MYRIGHTS.

``setacl = "SETACL" SP mailbox SP identifier SP mod-rights``, ``deleteacl = "DELETEACL" SP mailbox SP
identifier``, ``getacl = "GETACL" SP mailbox``, ``listrights = "LISTRIGHTS" SP mailbox SP identifier``,
``myrights = "MYRIGHTS" SP mailbox``; ``identifier = astring``, ``mod-rights = astring``. Identifiers
are prepared with SASLprep (3); one that comes out empty or fails is BAD.
"""

from __future__ import annotations

from pillarbox.auth.sasl import SASLError, saslprep
from pillarbox.imap.parser.commands import AclCommand
from pillarbox.imap.parser.primitives import ParseError, Reader


def _identifier(reader: Reader) -> str:
    try:
        prepared = saslprep(reader.astring().decode("utf-8"))
    except (UnicodeDecodeError, SASLError):
        raise ParseError("Invalid identifier") from None
    if not prepared:
        raise ParseError("Invalid identifier")
    return prepared


def parse_acl(reader: Reader, tag: str, name: str) -> AclCommand:
    reader.sp()
    mailbox = reader.mailbox()
    identifier = rights = None
    if name in ("SETACL", "DELETEACL", "LISTRIGHTS"):
        reader.sp()
        identifier = _identifier(reader)
    if name == "SETACL":
        reader.sp()
        rights = reader.astring().decode("utf-8", "replace")
    reader.end()
    return AclCommand(tag, name, mailbox, identifier, rights)
