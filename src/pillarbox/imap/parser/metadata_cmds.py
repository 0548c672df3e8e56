"""GETMETADATA and SETMETADATA (RFC 5464 4.2, 4.3, 5), and the entry names LIST-METADATA reuses.

``entry = astring``: a slash-separated path that starts with /private or /shared, with no empty
component (no "//", no trailing "/"), no "*" or "%", ASCII without controls (3.2; any other is BAD);
names are case-insensitive and kept in lower case. An entry to set has at least two components, four
under /private/vendor and /shared/vendor (3.2); GETMETADATA also takes a bare /private or /shared,
which with DEPTH names what lies below it.
"""

from __future__ import annotations

import re

from pillarbox.imap.parser.commands import GetMetadata, SetMetadata
from pillarbox.imap.parser.primitives import ParseError, Reader

_ENTRY = re.compile(r"/(private|shared)(/[\x20-\x7e]+)*")
DEPTHS = ("0", "1", "INFINITY")
MAX_ENTRIES = 1000  # entries one command may name: more is a command no client needs


def entry_name(reader: Reader, to_set: bool = False) -> str:
    """One ``entry``, lower-cased; BAD when it is not a valid entry name."""
    try:
        name = reader.astring().decode("ascii").lower()
    except UnicodeDecodeError:
        raise ParseError("Invalid entry name") from None
    parts = name.split("/")[1:]
    if _ENTRY.fullmatch(name) is None or "" in parts or "*" in name or "%" in name:
        raise ParseError("Invalid entry name")
    if to_set and (len(parts) < 2 or (parts[1] == "vendor" and len(parts) < 4)):
        raise ParseError("Invalid entry name")
    return name


def entries(reader: Reader) -> tuple[str, ...]:
    """``entries = entry / "(" entry *(SP entry) ")"``."""
    if not reader.take(b"("):
        return (entry_name(reader),)
    return entry_run(reader)


def entry_run(reader: Reader) -> tuple[str, ...]:
    """``entry *(SP entry) ")"``, each name once, at most MAX_ENTRIES of them."""
    found = [entry_name(reader)]
    while reader.take(b" "):
        if len(found) >= MAX_ENTRIES:
            raise ParseError("Too many entries")
        found.append(entry_name(reader))
    reader.expect(b")")
    return tuple(dict.fromkeys(found))


def parse_getmetadata(reader: Reader, tag: str, name: str) -> GetMetadata:
    """``getmetadata = "GETMETADATA" [SP getmetadata-options] SP mailbox SP entries``; the options
    ``"MAXSIZE" SP number`` and ``"DEPTH" SP ("0" / "1" / "infinity")``, each at most once. The RFC's
    own examples (4.2.1, 4.2.2) put the options after the mailbox: both places are accepted."""
    reader.sp()
    options: dict[str, int | str] = {}
    if reader.take(b"("):
        _options(reader, options)
        reader.sp()
    mailbox = reader.mailbox()
    reader.sp()
    if not options and reader.peek(2)[:1] == b"(" and reader.peek(2)[1:] not in (b"/", b'"', b"{"):
        reader.expect(b"(")
        _options(reader, options)
        reader.sp()
    wanted = entries(reader)
    reader.end()
    maxsize = options.get("MAXSIZE")
    return GetMetadata(tag, name, mailbox, wanted, maxsize if isinstance(maxsize, int) else None,
                       str(options.get("DEPTH", "0")))


def _options(reader: Reader, options: dict[str, int | str]) -> None:
    """``getmetadata-option *(SP getmetadata-option) ")"`` (the "(" read)."""
    while True:
        option = reader.keyword()
        reader.sp()
        if option in options or option not in ("MAXSIZE", "DEPTH"):
            raise ParseError(f"Invalid GETMETADATA option {option}")
        options[option] = reader.number() if option == "MAXSIZE" else reader.keyword()
        if options[option] not in DEPTHS and option == "DEPTH":
            raise ParseError("DEPTH is 0, 1 or infinity")
        if not reader.take(b" "):
            break
    reader.expect(b")")


def parse_setmetadata(reader: Reader, tag: str, name: str) -> SetMetadata:
    """``setmetadata = "SETMETADATA" SP mailbox SP entry-values``; ``entry-values = "(" entry-value
    *(SP entry-value) ")"``, ``entry-value = entry SP value``, ``value = nstring / literal8``."""
    reader.sp()
    mailbox = reader.mailbox()
    reader.sp()
    reader.expect(b"(")
    values: dict[str, bytes | None] = {}
    while True:
        if len(values) >= MAX_ENTRIES:
            raise ParseError("Too many entries")
        entry = entry_name(reader, to_set=True)
        reader.sp()
        values[entry] = reader.literal(allow_binary=True) if reader.is_literal8() else reader.nstring()
        if not reader.take(b" "):
            break
    reader.expect(b")")
    reader.end()
    return SetMetadata(tag, name, mailbox, tuple(values.items()))
