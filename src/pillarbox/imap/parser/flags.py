"""Flags (RFC 9051 2.3.2, 9 ``flag``): system flags case-insensitive, keywords kept as written."""

from __future__ import annotations

from pillarbox.imap.parser.primitives import ParseError, Reader

SYSTEM_FLAGS = {name.upper(): name for name in ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")}


def parse_flag(reader: Reader) -> str:
    """``flag = "\\Answered" / "\\Flagged" / "\\Deleted" / "\\Seen" / "\\Draft" / flag-keyword /
    flag-extension``; ``flag-extension = "\\" atom``; \\Recent cannot be set by a client."""
    if reader.take(b"\\"):
        name = "\\" + reader.atom()
        upper = name.upper()
        if upper == "\\RECENT":
            raise ParseError("\\Recent cannot be set")
        return SYSTEM_FLAGS.get(upper, name)
    return reader.atom()


def parse_flag_list(reader: Reader) -> tuple[str, ...]:
    """``flag-list = "(" [flag *(SP flag)] ")"``."""
    reader.expect(b"(", "flag list")
    if reader.take(b")"):
        return ()
    flags = [parse_flag(reader)]
    while reader.take(b" "):
        flags.append(parse_flag(reader))
    reader.expect(b")")
    return tuple(dict.fromkeys(flags))
