"""What each Sieve command and test accepts, as data: the compiler checks scripts against this table.

A signature lists the tagged arguments (with the kind of value each takes and the extension it needs),
the positional arguments in order, whether the comparator / match-type / address-part groups of
RFC 5228 2.7 apply, and whether the command takes tests and a block. Adding an extension is adding
rows here and a handler in the interpreter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

# Everything we implement; the ManageSieve SIEVE capability lists these (RFC 5804 1.7).
EXTENSIONS = (
    "fileinto", "reject", "ereject", "envelope", "encoded-character", "imap4flags", "variables",
    "relational", "subaddress", "body", "date", "index", "vacation", "vacation-seconds", "duplicate",
    "mailbox", "include", "editheader", "spamtest", "spamtestplus", "environment", "copy",
    "comparator-i;octet", "comparator-i;ascii-casemap", "comparator-i;ascii-numeric",
)
COMPARATORS = {"i;octet": None, "i;ascii-casemap": None, "i;ascii-numeric": "comparator-i;ascii-numeric"}
MATCH_TYPES = {"is": None, "contains": None, "matches": None, "count": "relational", "value": "relational"}
ADDRESS_PARTS = {"all": None, "localpart": None, "domain": None, "user": "subaddress", "detail": "subaddress"}
RELATIONS = frozenset({"gt", "ge", "lt", "le", "eq", "ne"})


@dataclass(frozen=True)
class TagSpec:
    kind: str
    """``flag`` (no value), ``string``, ``strings`` (string-list) or ``number``."""
    extension: str | None = None


@dataclass(frozen=True)
class Signature:
    extension: str | None = None
    positional: tuple[str, ...] = ()
    optional: str | None = None
    """``leading``: the first positional may be left out; ``trailing``: the last may."""
    tags: MappingProxyType[str, TagSpec] = field(default_factory=lambda: MappingProxyType({}))
    exclusive: tuple[frozenset[str], ...] = ()
    matching: bool = False
    address_part: bool = False
    tests: str = "none"
    """``none``, ``one`` (if/elsif, not) or ``list`` (allof, anyof)."""
    block: bool = False


def _tags(**tags: TagSpec) -> MappingProxyType[str, TagSpec]:
    return MappingProxyType(tags)


FLAG = TagSpec("flag")
_FLAGS_TAG = TagSpec("strings", "imap4flags")
_INDEX = {"index": TagSpec("number", "index"), "last": TagSpec("flag", "index")}
_ZONE = frozenset({"zone", "originalzone"})

COMMANDS: dict[str, Signature] = {
    "require": Signature(positional=("strings",)),
    "if": Signature(tests="one", block=True),
    "elsif": Signature(tests="one", block=True),
    "else": Signature(block=True),
    "stop": Signature(),
    "keep": Signature(tags=_tags(flags=_FLAGS_TAG)),
    "discard": Signature(),
    "redirect": Signature(positional=("string",), tags=_tags(copy=TagSpec("flag", "copy"))),
    "fileinto": Signature("fileinto", ("string",), tags=_tags(
        copy=TagSpec("flag", "copy"), create=TagSpec("flag", "mailbox"), flags=_FLAGS_TAG)),
    "reject": Signature("reject", ("string",)),
    "ereject": Signature("ereject", ("string",)),
    "setflag": Signature("imap4flags", ("string", "strings"), optional="leading"),
    "addflag": Signature("imap4flags", ("string", "strings"), optional="leading"),
    "removeflag": Signature("imap4flags", ("string", "strings"), optional="leading"),
    "set": Signature("variables", ("string", "string"), tags=_tags(
        lower=FLAG, upper=FLAG, lowerfirst=FLAG, upperfirst=FLAG, quotewildcard=FLAG, length=FLAG),
        exclusive=(frozenset({"lower", "upper"}), frozenset({"lowerfirst", "upperfirst"}))),
    "vacation": Signature("vacation", ("string",), tags=_tags(
        days=TagSpec("number"), seconds=TagSpec("number", "vacation-seconds"), subject=TagSpec("string"),
        **{"from": TagSpec("string")}, addresses=TagSpec("strings"), mime=FLAG, handle=TagSpec("string")),
        exclusive=(frozenset({"days", "seconds"}),)),
    "include": Signature("include", ("string",), tags=_tags(
        personal=FLAG, once=FLAG, optional=FLAG, **{"global": FLAG}),
        exclusive=(frozenset({"personal", "global"}),)),
    "return": Signature("include"),
    "global": Signature("include", ("strings",)),
    "addheader": Signature("editheader", ("string", "string"), tags=_tags(last=FLAG)),
    "deleteheader": Signature("editheader", ("string", "strings"), optional="trailing", tags=_tags(
        index=TagSpec("number"), last=FLAG), matching=True),
}

TESTS: dict[str, Signature] = {
    "true": Signature(),
    "false": Signature(),
    "not": Signature(tests="one"),
    "allof": Signature(tests="list"),
    "anyof": Signature(tests="list"),
    "exists": Signature(positional=("strings",)),
    "size": Signature(positional=("number",), tags=_tags(over=FLAG, under=FLAG),
                      exclusive=(frozenset({"over", "under"}),)),
    "header": Signature(positional=("strings", "strings"), tags=_tags(**_INDEX), matching=True),
    "address": Signature(positional=("strings", "strings"), tags=_tags(**_INDEX), matching=True,
                         address_part=True),
    "envelope": Signature("envelope", ("strings", "strings"), matching=True, address_part=True),
    "string": Signature("variables", ("strings", "strings"), matching=True),
    "hasflag": Signature("imap4flags", ("strings", "strings"), optional="leading", matching=True),
    "body": Signature("body", ("strings",), tags=_tags(raw=FLAG, content=TagSpec("strings"), text=FLAG),
                      exclusive=(frozenset({"raw", "content", "text"}),), matching=True),
    "date": Signature("date", ("string", "string", "strings"), tags=_tags(
        zone=TagSpec("string"), originalzone=FLAG, **_INDEX), exclusive=(_ZONE,), matching=True),
    "currentdate": Signature("date", ("string", "strings"), tags=_tags(zone=TagSpec("string")), matching=True),
    "duplicate": Signature("duplicate", tags=_tags(
        handle=TagSpec("string"), header=TagSpec("string"), uniqueid=TagSpec("string"),
        seconds=TagSpec("number"), last=FLAG), exclusive=(frozenset({"header", "uniqueid"}),)),
    "mailboxexists": Signature("mailbox", ("strings",)),
    "spamtest": Signature("spamtest", ("string",), tags=_tags(percent=TagSpec("flag", "spamtestplus")),
                          matching=True),
    "environment": Signature("environment", ("string", "strings"), matching=True),
}
