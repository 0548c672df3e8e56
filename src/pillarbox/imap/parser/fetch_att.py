"""FETCH data items (RFC 9051 6.4.5, 9 ``fetch-att``) and the FETCH modifiers of RFC 7162.

``fetch-att = "ENVELOPE" / "FLAGS" / "INTERNALDATE" / "RFC822" [".HEADER" / ".SIZE" / ".TEXT"] /
"BODY" ["STRUCTURE"] / "UID" / "BODY" section [partial] / "BODY.PEEK" section [partial] /
"BINARY" [".PEEK"] section-binary [partial] / "BINARY.SIZE" section-binary`` plus MODSEQ (RFC 7162),
EMAILID/THREADID (RFC 8474), SAVEDATE (RFC 8514) and PREVIEW [(LAZY)] (RFC 8970). The macros ALL,
FAST and FULL are expanded here, so the session sees only items.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pillarbox.imap.parser.primitives import MAX_NUMBER64, ParseError, Reader

SIMPLE_ITEMS = frozenset(
    [
        "ENVELOPE",
        "FLAGS",
        "INTERNALDATE",
        "RFC822",
        "RFC822.HEADER",
        "RFC822.SIZE",
        "RFC822.TEXT",
        "BODY",
        "BODYSTRUCTURE",
        "UID",
        "MODSEQ",
        "EMAILID",
        "THREADID",
        "SAVEDATE",
        "PREVIEW",
    ]
)
_NAME = re.compile(rb"[A-Za-z0-9.]+")
_MSGTEXT = ("HEADER.FIELDS.NOT", "HEADER.FIELDS", "HEADER", "TEXT", "MIME")


@dataclass(frozen=True)
class Section:
    """``section-spec``: part numbers, then HEADER, HEADER.FIELDS[.NOT] (fields), TEXT or MIME."""

    part: tuple[int, ...] = ()
    text: str | None = None
    fields: tuple[str, ...] = ()

    def __str__(self) -> str:
        pieces = [str(n) for n in self.part]
        if self.text:
            pieces.append(self.text)
        out = ".".join(pieces)
        if self.fields:
            out += " (" + " ".join(self.fields) + ")"
        return out


@dataclass(frozen=True)
class FetchAtt:
    """One ``fetch-att``. ``section`` is set for BODY[...]/BINARY[...]; ``partial`` is (start, length)."""

    name: str  # ENVELOPE, FLAGS, ..., "BODY" (with section: BODY[...]), "BINARY", "BINARY.SIZE"
    section: Section | None = None
    partial: tuple[int, int] | None = None
    peek: bool = False
    lazy: bool = False  # PREVIEW (LAZY)

    @property
    def response_name(self) -> str:
        """The msg-att name for the reply: BODY[1.2]<0>, BINARY[1], RFC822.SIZE ... (PEEK dropped)."""
        if self.section is None:
            return self.name
        name = f"{self.name}[{self.section}]"
        return name + (f"<{self.partial[0]}>" if self.partial else "")


@dataclass(frozen=True)
class FetchModifiers:
    """``fetch-modifier = "CHANGEDSINCE" SP mod-sequence-value / "VANISHED"`` (RFC 7162 3.1.4, 3.2.6)
    ``/ modifier-partial`` (RFC 9394 3.3)."""

    changedsince: int | None = None
    vanished: bool = False
    partial: tuple[int, int] | None = None


_MACROS = {
    "ALL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"),
    "FAST": ("FLAGS", "INTERNALDATE", "RFC822.SIZE"),
    "FULL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"),
}


def parse_fetch_items(reader: Reader) -> tuple[FetchAtt, ...]:
    """``("ALL" / "FULL" / "FAST" / fetch-att / "(" fetch-att *(SP fetch-att) ")")``."""
    if reader.take(b"("):
        items = [parse_fetch_att(reader)]
        while reader.take(b" "):
            items.append(parse_fetch_att(reader))
        reader.expect(b")")
        return tuple(items)
    macro = _MACROS.get(reader.peek(5).split(b" ")[0].decode("ascii", "replace").upper())
    if macro is not None:
        reader.keyword()
        return tuple(FetchAtt(name) for name in macro)
    return (parse_fetch_att(reader),)


def parse_fetch_att(reader: Reader) -> FetchAtt:
    found = _NAME.match(reader.raw, reader.pos)
    if found is None:
        raise ParseError("Expected fetch attribute")
    reader.pos = found.end()
    name = found.group().decode("ascii").upper()
    if name in ("BODY", "BODY.PEEK") and reader.peek() == b"[":
        section = _section(reader)
        return FetchAtt("BODY", section, _partial(reader), peek=name == "BODY.PEEK")
    if name in ("BINARY", "BINARY.PEEK", "BINARY.SIZE"):
        section = Section(_section_binary(reader))
        partial = None if name == "BINARY.SIZE" else _partial(reader)
        return FetchAtt("BINARY" if name != "BINARY.SIZE" else name, section, partial, peek=name == "BINARY.PEEK")
    if name == "PREVIEW" and reader.peek(2) == b" (":
        reader.expect(b" (")
        lazy = reader.keyword() == "LAZY"
        if not lazy:
            raise ParseError("Unknown PREVIEW modifier")
        reader.expect(b")")
        return FetchAtt(name, lazy=True)
    if name not in SIMPLE_ITEMS:
        raise ParseError(f"Unknown fetch attribute {name}")
    return FetchAtt(name)


def parse_section(reader: Reader) -> Section:
    """``section`` with its brackets, for readers outside FETCH (a CATENATE URL's section)."""
    return _section(reader)


def _section(reader: Reader) -> Section:
    """``section = "[" [section-spec] "]"``; ``section-spec = section-msgtext / (section-part ["." section-text])``."""
    reader.expect(b"[")
    if reader.take(b"]"):
        return Section()
    part = _section_part(reader) if reader.peek().isdigit() else ()
    text = None
    if not part or reader.take(b"."):
        text = _section_text(reader, allow_mime=bool(part))
    fields: tuple[str, ...] = ()
    if text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
        reader.sp()
        fields = _header_list(reader)
    reader.expect(b"]")
    return Section(part, text, fields)


def _section_part(reader: Reader) -> tuple[int, ...]:
    """``section-part = nz-number *("." nz-number)``."""
    numbers = [reader.nz_number()]
    while reader.peek(2)[:1] == b"." and reader.peek(2)[1:].isdigit():
        reader.pos += 1
        numbers.append(reader.nz_number())
        if len(numbers) > reader.max_depth:
            raise ParseError("Section nested too deeply")
    return tuple(numbers)


def _section_text(reader: Reader, allow_mime: bool) -> str:
    """``section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list / "TEXT"``; ``section-text
    = section-msgtext / "MIME"``."""
    for text in _MSGTEXT:
        if reader.take(text.encode()):
            if text == "MIME" and not allow_mime:
                raise ParseError("MIME needs a part number")
            return text
    raise ParseError("Invalid section")


def _header_list(reader: Reader) -> tuple[str, ...]:
    """``header-list = "(" header-fld-name *(SP header-fld-name) ")"``; ``header-fld-name = astring``."""
    reader.expect(b"(")
    names = [reader.astring().decode("ascii", "replace").upper()]
    while reader.take(b" "):
        names.append(reader.astring().decode("ascii", "replace").upper())
    reader.expect(b")")
    return tuple(names)


def _section_binary(reader: Reader) -> tuple[int, ...]:
    """``section-binary = "[" [section-part] "]"``."""
    reader.expect(b"[")
    part = _section_part(reader) if reader.peek().isdigit() else ()
    reader.expect(b"]")
    return part


def _partial(reader: Reader) -> tuple[int, int] | None:
    """``partial = "<" number64 "." nz-number64 ">"``."""
    if not reader.take(b"<"):
        return None
    start = reader.number(MAX_NUMBER64)
    reader.expect(b".")
    length = reader.nz_number(MAX_NUMBER64)
    reader.expect(b">")
    return start, length


def parse_fetch_modifiers(reader: Reader) -> FetchModifiers:
    """``fetch-modifiers = SP "(" fetch-modifier *(SP fetch-modifier) ")"`` (the SP already read)."""
    reader.expect(b"(")
    changedsince: int | None = None
    vanished = False
    partial: tuple[int, int] | None = None
    while True:
        name = reader.keyword()
        if name == "CHANGEDSINCE" and changedsince is None:
            reader.sp()
            changedsince = reader.number64()
        elif name == "VANISHED" and not vanished:
            vanished = True
        elif name == "PARTIAL" and partial is None:
            reader.sp()
            partial = parse_partial_range(reader)
        else:
            raise ParseError(f"Invalid FETCH modifier {name}")
        if not reader.take(b" "):
            break
    reader.expect(b")")
    if vanished and changedsince is None:
        raise ParseError("VANISHED needs CHANGEDSINCE")  # RFC 7162 3.2.6
    return FetchModifiers(changedsince, vanished, partial)


def parse_partial_range(reader: Reader) -> tuple[int, int]:
    """RFC 9394 4: ``partial-range = partial-range-first / partial-range-last``, ``nz-number ":"
    nz-number`` or ``MINUS nz-number ":" MINUS nz-number``; both ends of one sign."""
    negative = reader.take(b"-")
    first = reader.nz_number()
    reader.expect(b":")
    if negative:
        reader.expect(b"-", "a negative number")
    last = reader.nz_number()
    return (-first, -last) if negative else (first, last)
