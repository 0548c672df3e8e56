"""SEARCH, SORT, THREAD: every search key, CHARSET, RETURN options, nesting limits."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pillarbox.imap.parser import (
    And,
    CancelUpdate,
    DateKey,
    FlagKey,
    HeaderKey,
    KeywordKey,
    ModSeqKey,
    Not,
    NumberKey,
    Or,
    Search,
    SearchReturn,
    SequenceSet,
    SetKey,
    Sort,
    StringKey,
    Thread,
)
from tests.imap.parser_helpers import parse, refused


def criteria(raw: bytes, utf8: bool = False) -> tuple[object, ...]:
    command = parse(raw, utf8)
    assert isinstance(command, Search)
    return command.criteria.keys


def test_rfc_examples() -> None:
    assert criteria(b'A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"') == (
        FlagKey("FLAGGED"),
        DateKey("SINCE", date(1994, 2, 1)),
        Not(StringKey("FROM", "Smith")),
    )
    assert criteria(b'A283 SEARCH TEXT "string not in mailbox"') == (StringKey("TEXT", "string not in mailbox"),)
    command = parse(b"A284 SEARCH CHARSET UTF-8 TEXT {12}\r\n\xd1\x82\xd0\xb5\xd1\x81\xd1\x82\xd0\xb0\xd0\xbc")
    assert command == Search("A284", "SEARCH", False, And((StringKey("TEXT", "тестам"),)), "UTF-8")
    command = parse(b'A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"')
    assert command.returns == SearchReturn(("MIN", "COUNT"))  # type: ignore[attr-defined]
    assert parse(b"A283 SEARCH RETURN () FLAGGED").returns == SearchReturn(())  # type: ignore[attr-defined]
    assert parse(b"a UID SEARCH RETURN (SAVE) 1:*").uid  # type: ignore[attr-defined]
    assert criteria(b"a SEARCH $") == (SetKey(False, SequenceSet(saved=True)),)
    assert criteria(b"a SEARCH UID $ SMALLER 1000") == (
        SetKey(True, SequenceSet(saved=True)),
        NumberKey("SMALLER", 1000),
    )


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (b"ALL", FlagKey("ALL")),
        (b"answered", FlagKey("ANSWERED")),
        (b"UNDRAFT", FlagKey("UNDRAFT")),
        (b"NEW", FlagKey("NEW")),
        (b"OLD", FlagKey("OLD")),
        (b"RECENT", FlagKey("RECENT")),
        (b"SAVEDATESUPPORTED", FlagKey("SAVEDATESUPPORTED")),
        (b"BCC x", StringKey("BCC", "x")),
        (b"BODY {3}\r\na b", StringKey("BODY", "a b")),
        (b"CC x", StringKey("CC", "x")),
        (b'SUBJECT ""', StringKey("SUBJECT", "")),
        (b"TO x", StringKey("TO", "x")),
        (b"BEFORE 01-Jan-2000", DateKey("BEFORE", date(2000, 1, 1))),
        (b'ON "3-Mar-2003"', DateKey("ON", date(2003, 3, 3))),
        (b"SENTBEFORE 1-Jan-2000", DateKey("SENTBEFORE", date(2000, 1, 1))),
        (b"SENTON 1-Jan-2000", DateKey("SENTON", date(2000, 1, 1))),
        (b"SENTSINCE 1-Jan-2000", DateKey("SENTSINCE", date(2000, 1, 1))),
        (b"SAVEDBEFORE 1-Jan-2000", DateKey("SAVEDBEFORE", date(2000, 1, 1))),
        (b"SAVEDON 1-Jan-2000", DateKey("SAVEDON", date(2000, 1, 1))),
        (b"SAVEDSINCE 1-Jan-2000", DateKey("SAVEDSINCE", date(2000, 1, 1))),
        (b"KEYWORD $Forwarded", KeywordKey("KEYWORD", "$Forwarded")),
        (b"UNKEYWORD foo", KeywordKey("UNKEYWORD", "foo")),
        (b"HEADER Message-ID <x@y>", HeaderKey("Message-ID", "<x@y>")),
        (b'HEADER "X-Thing" ""', HeaderKey("X-Thing", "")),
        (b"LARGER 9999999999", NumberKey("LARGER", 9999999999)),
        (b"SMALLER 5", NumberKey("SMALLER", 5)),
        (b"OLDER 3600", NumberKey("OLDER", 3600)),
        (b"YOUNGER 60", NumberKey("YOUNGER", 60)),
        (b"UID 1:*", SetKey(True, SequenceSet(((1, None),)))),
        (b"2:4,7", SetKey(False, SequenceSet(((2, 4), (7, 7))))),
        (b"MODSEQ 620162338", ModSeqKey(620162338)),
        (b'MODSEQ "/flags/\\\\draft" all 620162338', ModSeqKey(620162338, "\\draft", "all")),
        (b"EMAILID M6d99ac3275bb4e", StringKey("EMAILID", "M6d99ac3275bb4e")),
        (b"THREADID T64b478a75b7ea9", StringKey("THREADID", "T64b478a75b7ea9")),
        (b"OR SEEN FLAGGED", Or(FlagKey("SEEN"), FlagKey("FLAGGED"))),
        (b"NOT (SEEN DRAFT)", Not(And((FlagKey("SEEN"), FlagKey("DRAFT"))))),
        (
            b"OR (FROM a TO b) NOT 1",
            Or(And((StringKey("FROM", "a"), StringKey("TO", "b"))), Not(SetKey(False, SequenceSet(((1, 1),))))),
        ),
    ],
)
def test_every_key(text: bytes, key: object) -> None:
    assert criteria(b"a SEARCH " + text) == (key,)


def test_charsets() -> None:
    command = parse(b'a SEARCH CHARSET "iso-8859-1" SUBJECT {4}\r\ncaf\xe9')
    assert command.criteria.keys == (StringKey("SUBJECT", "café"),)  # type: ignore[attr-defined]
    reply = refused(b"a SEARCH CHARSET X-UNKNOWN ALL")
    assert (reply.status, reply.code) == ("NO", "BADCHARSET (UTF-8 US-ASCII)")
    assert refused(b"a SEARCH CHARSET US-ASCII SUBJECT {1}\r\n\xe9").status == "BAD"
    assert criteria('a SEARCH SUBJECT "café"'.encode(), utf8=True) == (StringKey("SUBJECT", "café"),)


@pytest.mark.parametrize(
    "raw",
    [
        b"a SEARCH",
        b"a SEARCH BOGUS",
        b"a SEARCH (SEEN",
        b"a SEARCH SEEN)",
        b"a SEARCH ()",
        b"a SEARCH OR SEEN",
        b"a SEARCH NOT",
        b"a SEARCH SINCE 32-Jan-2000",
        b"a SEARCH SINCE 1-Foo-2000",
        b"a SEARCH LARGER -1",
        b"a SEARCH OLDER 0",
        b"a SEARCH  SEEN",
        b"a SEARCH SEEN ",
        b"a SEARCH 0",
        b"a SEARCH 1:0:3",
        b'a SEARCH MODSEQ "/flags/" all 5',
        b'a SEARCH MODSEQ "/flags/x" bogus 5',
        b"a SEARCH RETURN (BOGUS) ALL",
        b"a SEARCH UID",
    ],
)
def test_invalid(raw: bytes) -> None:
    assert refused(raw).status == "BAD"


def test_depth_limit() -> None:
    deep = b"a SEARCH " + b"(" * 150 + b"SEEN" + b")" * 150
    assert "deeply" in refused(deep).text
    nots = b"a SEARCH " + b"NOT " * 5000 + b"SEEN"
    assert "deeply" in refused(nots).text
    ok = b"a SEARCH " + b"(" * 50 + b"SEEN" + b")" * 50
    assert parse(ok).name == "SEARCH"


def test_sort() -> None:
    command = parse(b"A282 SORT (SUBJECT) UTF-8 SINCE 1-Feb-1994")
    assert command == Sort(
        "A282", "SORT", False, (("SUBJECT", False),), "UTF-8", And((DateKey("SINCE", date(1994, 2, 1)),))
    )
    command = parse(b"A285 UID SORT (REVERSE ARRIVAL DISPLAYFROM) US-ASCII ALL")
    assert command.criteria == (("ARRIVAL", True), ("DISPLAYFROM", False))  # type: ignore[attr-defined]
    assert parse(b"a SORT RETURN (MIN) (DATE) UTF-8 ALL").returns == SearchReturn(("MIN",))  # type: ignore[attr-defined]
    assert refused(b"a SORT (BOGUS) UTF-8 ALL").status == "BAD"
    assert refused(b"a SORT () UTF-8 ALL").status == "BAD"
    assert refused(b"a SORT (DATE) ALL").status in ("BAD", "NO")


def test_thread() -> None:
    command = parse(b"A283 THREAD ORDEREDSUBJECT UTF-8 SINCE 5-MAR-2000")
    assert command == Thread(
        "A283", "THREAD", False, "ORDEREDSUBJECT", "UTF-8", And((DateKey("SINCE", date(2000, 3, 5)),))
    )
    assert parse(b"a UID THREAD references US-ASCII ALL").algorithm == "REFERENCES"  # type: ignore[attr-defined]
    assert refused(b"a THREAD BOGUS UTF-8 ALL").status == "BAD"


def test_unquoted_words_name_the_unknown_key() -> None:
    assert refused(b"a SEARCH BODY sell cherries").text == "Unknown search key CHERRIES"


def test_context_return_options_and_cancelupdate() -> None:
    """RFC 5267 5 (CONTEXT, UPDATE, CANCELUPDATE) and RFC 5465 7 (UPDATE with fetch-atts), the RFCs' examples."""
    returns = parse(b"A01 SEARCH RETURN (CONTEXT COUNT) UNDELETED UNKEYWORD $Junk").returns  # type: ignore[attr-defined]
    assert returns == SearchReturn(("CONTEXT", "COUNT"))
    returns = parse(b"B02 UID SORT RETURN (UPDATE COUNT) (DATE) UTF-8 KEYWORD $Junk").returns  # type: ignore[attr-defined]
    assert returns == SearchReturn(("UPDATE", "COUNT"))
    raw = b'a00 SEARCH RETURN (COUNT UPDATE (UID BODY[HEADER.FIELDS (TO FROM SUBJECT)])) FROM "boss"'
    fetched = parse(raw).returns.update_fetch  # type: ignore[attr-defined]
    assert [att.name for att in fetched] == ["UID", "BODY"]
    assert parse(b'B04 CANCELUPDATE "B01"') == CancelUpdate("B04", "CANCELUPDATE", ("B01",))
    for bad in (b"B04 CANCELUPDATE", b"B04 CANCELUPDATE B01", b'B04 CANCELUPDATE "B01" ',
                b"a SEARCH RETURN (UPDATE ()) ALL"):
        assert refused(bad).status == "BAD"


@given(st.lists(st.sampled_from(["MIN", "MAX", "COUNT", "SAVE", "CONTEXT", "UPDATE", "UPDATE (UID FLAGS)"]),
                max_size=5),
       st.lists(st.text("ABCxyz.01", min_size=1, max_size=6), min_size=1, max_size=4))
def test_return_options_and_cancelupdate_tags_read_back(options: list[str], tags: list[str]) -> None:
    returns = parse(f"a SEARCH RETURN ({' '.join(options)}) ALL".encode()).returns  # type: ignore[attr-defined]
    assert returns.options == tuple(dict.fromkeys(option.split(" ")[0] for option in options))
    assert bool(returns.update_fetch) == ("UPDATE (UID FLAGS)" in options)
    quoted = " ".join(f'"{tag}"' for tag in tags)
    assert parse(f"c CANCELUPDATE {quoted}".encode()) == CancelUpdate("c", "CANCELUPDATE", tuple(dict.fromkeys(tags)))
