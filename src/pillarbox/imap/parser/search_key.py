"""SEARCH criteria (RFC 9051 6.4.4, 9 ``search-key``; RFC 3501 6.4.4) plus the extensions' keys.

Keys from RFC 3501 that RFC 9051 dropped (NEW, OLD, RECENT) are still parsed: rev1 clients send
them. Extensions: MODSEQ (RFC 7162 3.1.5), OLDER/YOUNGER (RFC 5032), SAVEDBEFORE/SAVEDON/
SAVEDSINCE/SAVEDATESUPPORTED (RFC 8514), EMAILID/THREADID (RFC 8474). Strings are decoded with the
command's CHARSET. Nesting ("(", NOT, OR) is capped at ``Reader.max_depth`` so a hostile client
cannot exhaust the stack.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from datetime import date

from pillarbox.imap.parser.primitives import ParseError, Reader
from pillarbox.imap.parser.sequence_set import SequenceSet, is_sequence_set_start, parse_sequence_set
from pillarbox.imap.response import code_badcharset


@dataclass(frozen=True)
class FlagKey:
    """ALL, ANSWERED, DELETED, DRAFT, FLAGGED, SEEN, UN..., NEW, OLD, RECENT, SAVEDATESUPPORTED."""

    name: str


@dataclass(frozen=True)
class KeywordKey:
    """``"KEYWORD" SP flag-keyword`` / ``"UNKEYWORD" SP flag-keyword``."""

    name: str
    keyword: str


@dataclass(frozen=True)
class StringKey:
    """BCC, BODY, CC, FROM, SUBJECT, TEXT, TO ``SP astring``; EMAILID/THREADID ``SP objectid``."""

    name: str
    value: str


@dataclass(frozen=True)
class HeaderKey:
    """``"HEADER" SP header-fld-name SP astring``."""

    field: str
    value: str


@dataclass(frozen=True)
class DateKey:
    """BEFORE, ON, SINCE, SENTBEFORE, SENTON, SENTSINCE, SAVEDBEFORE, SAVEDON, SAVEDSINCE ``SP date``."""

    name: str
    date: date


@dataclass(frozen=True)
class NumberKey:
    """``"LARGER" SP number64``, SMALLER; ``"OLDER" SP nz-number``, YOUNGER (seconds, RFC 5032)."""

    name: str
    value: int


@dataclass(frozen=True)
class SetKey:
    """``sequence-set`` (uid=False) or ``"UID" SP sequence-set``."""

    uid: bool
    set: SequenceSet


@dataclass(frozen=True)
class ModSeqKey:
    """RFC 7162: ``"MODSEQ" [search-modseq-ext] SP mod-sequence-valzer``."""

    modseq: int
    entry_name: str | None = None  # a flag from DQUOTE "/flags/" attr-flag DQUOTE
    entry_type: str | None = None  # "priv" / "shared" / "all"


@dataclass(frozen=True)
class Not:
    key: SearchKey


@dataclass(frozen=True)
class Or:
    left: SearchKey
    right: SearchKey


@dataclass(frozen=True)
class And:
    """``"(" search-key *(SP search-key) ")"`` and the top level list of keys."""

    keys: tuple[SearchKey, ...]


SearchKey = FlagKey | KeywordKey | StringKey | HeaderKey | DateKey | NumberKey | SetKey | ModSeqKey | Not | Or | And

FLAG_KEYS = frozenset(
    [
        "ALL",
        "ANSWERED",
        "DELETED",
        "DRAFT",
        "FLAGGED",
        "SEEN",
        "UNANSWERED",
        "UNDELETED",
        "UNDRAFT",
        "UNFLAGGED",
        "UNSEEN",
        "NEW",
        "OLD",
        "RECENT",
        "SAVEDATESUPPORTED",
    ]
)
STRING_KEYS = frozenset(["BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO"])
OBJECTID_KEYS = frozenset({"EMAILID", "THREADID"})
DATE_KEYS = frozenset(
    ["BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE", "SAVEDBEFORE", "SAVEDON", "SAVEDSINCE"]
)
ENTRY_TYPES = frozenset({"PRIV", "SHARED", "ALL"})
ARGUMENT_KEYS = (
    STRING_KEYS
    | OBJECTID_KEYS
    | DATE_KEYS
    | {
        "KEYWORD",
        "UNKEYWORD",
        "HEADER",
        "LARGER",
        "SMALLER",
        "OLDER",
        "YOUNGER",
        "UID",
        "NOT",
        "OR",
        "MODSEQ",
    }
)


def check_charset(name: str) -> str:
    """A charset Python can decode; otherwise ``NO [BADCHARSET]`` (RFC 9051 6.4.4)."""
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise ParseError("Unsupported charset", code_badcharset(), status="NO") from None


class SearchParser:
    """Reads ``search-key`` trees from a reader with strings decoded in ``charset``."""

    def __init__(self, reader: Reader, charset: str = "utf-8") -> None:
        self.reader = reader
        self.charset = charset

    def program(self) -> And:
        """``1*(SP search-key)`` up to the end of the command (the caller read the first SP)."""
        keys = [self.key(0)]
        while self.reader.take(b" "):
            keys.append(self.key(0))
        self.reader.end()
        return And(tuple(keys))

    def key(self, depth: int) -> SearchKey:
        if depth > self.reader.max_depth:
            raise ParseError("Search program nested too deeply")
        reader = self.reader
        if reader.take(b"("):
            keys = [self.key(depth + 1)]
            while reader.take(b" "):
                keys.append(self.key(depth + 1))
            reader.expect(b")")
            return And(tuple(keys))
        if is_sequence_set_start(reader):
            return SetKey(False, parse_sequence_set(reader))
        return self._named(reader.keyword(), depth)

    def _named(self, name: str, depth: int) -> SearchKey:
        reader = self.reader
        if name in FLAG_KEYS:
            return FlagKey(name)
        if name not in ARGUMENT_KEYS:
            raise ParseError(f"Unknown search key {name}")
        reader.sp()
        if name in STRING_KEYS:
            return StringKey(name, self._string())
        if name in OBJECTID_KEYS:
            return StringKey(name, reader.atom())
        if name in DATE_KEYS:
            return DateKey(name, reader.date())
        if name in ("KEYWORD", "UNKEYWORD"):
            return KeywordKey(name, reader.atom())
        if name == "HEADER":
            field = reader.astring().decode("ascii", "replace")
            reader.sp()
            return HeaderKey(field, self._string())
        if name in ("LARGER", "SMALLER"):
            return NumberKey(name, reader.number64())
        if name in ("OLDER", "YOUNGER"):
            return NumberKey(name, reader.nz_number())
        if name == "UID":
            return SetKey(True, parse_sequence_set(reader))
        if name == "NOT":
            return Not(self.key(depth + 1))
        if name == "OR":
            left = self.key(depth + 1)
            reader.sp()
            return Or(left, self.key(depth + 1))
        if name == "MODSEQ":
            return self._modseq()
        raise ParseError(f"Unknown search key {name}")

    def _string(self) -> str:
        data = self.reader.astring()
        try:
            return data.decode(self.charset)
        except (UnicodeDecodeError, LookupError):
            raise ParseError("Search string not valid in its charset") from None

    def _modseq(self) -> ModSeqKey:
        """``"MODSEQ" [SP entry-name SP entry-type-req] SP mod-sequence-valzer`` (RFC 7162 3.1.5)."""
        reader = self.reader
        entry_name = entry_type = None
        if reader.peek() == b'"':
            entry = reader.quoted().decode("ascii", "replace")
            if not entry.lower().startswith("/flags/") or len(entry) == 7:
                raise ParseError("Invalid MODSEQ entry name")
            entry_name = entry[7:]
            reader.sp()
            entry_type = reader.keyword()
            if entry_type not in ENTRY_TYPES:
                raise ParseError("Invalid MODSEQ entry type")
            entry_type = entry_type.lower()
            reader.sp()
        return ModSeqKey(reader.number64(), entry_name, entry_type)
