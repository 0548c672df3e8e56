"""FETCH items and modifiers, and sequence sets."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pillarbox.imap.parser import Fetch, FetchAtt, FetchModifiers, Section, SequenceSet
from tests.imap.parser_helpers import parse, refused


def items(raw: bytes) -> tuple[FetchAtt, ...]:
    command = parse(raw)
    assert isinstance(command, Fetch)
    return command.items


def test_rfc_examples() -> None:
    assert items(b"A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])") == (
        FetchAtt("FLAGS"),
        FetchAtt("BODY", Section((), "HEADER.FIELDS", ("DATE", "FROM"))),
    )
    assert items(b"A003 FETCH 12 FULL") == tuple(
        FetchAtt(n) for n in ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY")
    )
    assert items(b"a FETCH 1 all") == tuple(FetchAtt(n) for n in ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"))
    assert items(b"a FETCH 1 FAST") == tuple(FetchAtt(n) for n in ("FLAGS", "INTERNALDATE", "RFC822.SIZE"))
    assert items(b"A999 UID FETCH 4827313:4828442 FLAGS") == (FetchAtt("FLAGS"),)
    assert items(b"a FETCH 1 BODY[]") == (FetchAtt("BODY", Section()),)


@pytest.mark.parametrize(
    ("text", "att"),
    [
        (b"ENVELOPE", FetchAtt("ENVELOPE")),
        (b"rfc822.header", FetchAtt("RFC822.HEADER")),
        (b"RFC822", FetchAtt("RFC822")),
        (b"RFC822.TEXT", FetchAtt("RFC822.TEXT")),
        (b"BODYSTRUCTURE", FetchAtt("BODYSTRUCTURE")),
        (b"UID", FetchAtt("UID")),
        (b"MODSEQ", FetchAtt("MODSEQ")),
        (b"EMAILID", FetchAtt("EMAILID")),
        (b"THREADID", FetchAtt("THREADID")),
        (b"SAVEDATE", FetchAtt("SAVEDATE")),
        (b"PREVIEW", FetchAtt("PREVIEW")),
        (b"PREVIEW (LAZY)", FetchAtt("PREVIEW", lazy=True)),
        (b"BODY.PEEK[1.2.MIME]", FetchAtt("BODY", Section((1, 2), "MIME"), peek=True)),
        (b"BODY[3.TEXT]<0.2048>", FetchAtt("BODY", Section((3,), "TEXT"), (0, 2048))),
        (b"BODY[TEXT]", FetchAtt("BODY", Section((), "TEXT"))),
        (b"BODY[4.2.HEADER]", FetchAtt("BODY", Section((4, 2), "HEADER"))),
        (b"BODY[HEADER.FIELDS.NOT (Received)]", FetchAtt("BODY", Section((), "HEADER.FIELDS.NOT", ("RECEIVED",)))),
        (b"BODY.PEEK[2]", FetchAtt("BODY", Section((2,)), peek=True)),
        (b"BINARY[1]", FetchAtt("BINARY", Section((1,)))),
        (b"BINARY.PEEK[1.3]<100.200>", FetchAtt("BINARY", Section((1, 3)), (100, 200), peek=True)),
        (b"BINARY[]", FetchAtt("BINARY", Section())),
        (b"BINARY.SIZE[2]", FetchAtt("BINARY.SIZE", Section((2,)))),
    ],
)
def test_every_item(text: bytes, att: FetchAtt) -> None:
    assert items(b"a FETCH 1 (" + text + b")") == (att,)


def test_response_names() -> None:
    assert FetchAtt("BODY", Section((1, 2), "HEADER.FIELDS", ("FROM", "TO")), (0, 10), True).response_name == (
        "BODY[1.2.HEADER.FIELDS (FROM TO)]<0>"
    )
    assert FetchAtt("BINARY.SIZE", Section((1,))).response_name == "BINARY.SIZE[1]"
    assert FetchAtt("RFC822.SIZE").response_name == "RFC822.SIZE"


def test_modifiers() -> None:
    command = parse(b"s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)")
    assert command.modifiers == FetchModifiers(12345, True)  # type: ignore[attr-defined]
    assert parse(b"s FETCH 1:* FLAGS (CHANGEDSINCE 0)").modifiers == FetchModifiers(0)  # type: ignore[attr-defined]
    assert refused(b"s FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)").status == "BAD"  # VANISHED needs UID
    assert refused(b"s UID FETCH 1:* (FLAGS) (VANISHED)").status == "BAD"
    assert refused(b"s FETCH 1 FLAGS (BOGUS)").status == "BAD"


@pytest.mark.parametrize(
    "raw",
    [
        b"a FETCH 1",
        b"a FETCH 1 ()",
        b"a FETCH 1 (FLAGS",
        b"a FETCH 1 BOGUS",
        b"a FETCH 1 BODY[0]",
        b"a FETCH 1 BODY[MIME]",
        b"a FETCH 1 BODY[1.]",
        b"a FETCH 1 BODY[HEADER.FIELDS]",
        b"a FETCH 1 BODY[HEADER.FIELDS ()]",
        b"a FETCH 1 BODY[TEXT]<5>",
        b"a FETCH 1 BODY[TEXT]<5.0>",
        b"a FETCH 1 BINARY[TEXT]",
        b"a FETCH 1 BINARY.SIZE[1]<0.5>",
        b"a FETCH 1 BODY[1",
        b"a FETCH 0 FLAGS",
        b"a FETCH 1: FLAGS",
        b"a FETCH FLAGS",
        b"a FETCH 1 PREVIEW (FUZZY)",
    ],
)
def test_invalid(raw: bytes) -> None:
    assert refused(raw).status == "BAD"


# -- sequence sets ---------------------------------------------------------------------------------


def test_sequence_set_forms() -> None:
    assert SequenceSet.of("1:3,5,*") == SequenceSet(((1, 3), (5, 5), (None, None)))
    assert SequenceSet.of("*:4").resolve(3) == [(3, 4)]
    assert SequenceSet.of("5:2,3,9:*").resolve(12) == [(2, 5), (9, 12)]
    assert SequenceSet.of("*:*").resolve(7) == [(7, 7)]
    assert list(SequenceSet.of("1:*").iterate(0)) == []  # empty mailbox
    assert SequenceSet.of("$").saved
    assert str(SequenceSet.of("1:3,5,*:7")) == "1:3,5,*:7"
    assert list(SequenceSet.of("2,4:6,1").iterate(5)) == [1, 2, 4, 5]
    assert SequenceSet.of("1:*").contains(10**9, 10**9)
    assert SequenceSet.of("3:7,100").highest_explicit() == 100


def test_huge_ranges_stay_ranges() -> None:
    huge = SequenceSet.of("1:4294967295")
    assert huge.resolve(4294967295) == [(1, 4294967295)]
    assert next(iter(huge.iterate(10**9))) == 1


@pytest.mark.parametrize("text", ["0", "1:0", "1:0:3", "1:2:3", "", ",", "1,", "a", "-1", "4294967296", "1:*:2"])
def test_invalid_sequence_sets(text: str) -> None:
    with pytest.raises(Exception) as info:
        SequenceSet.of(text)
    assert info.type.__name__ == "ParseError"


@given(
    st.lists(st.tuples(st.integers(1, 60) | st.none(), st.integers(1, 60) | st.none()), min_size=1, max_size=6),
    st.integers(0, 60),
)
def test_resolve_matches_naive(pairs: list[tuple[int | None, int | None]], largest: int) -> None:
    seq = SequenceSet(tuple(pairs))
    naive: set[int] = set()
    for a, b in pairs:
        low, high = sorted((largest if a is None else a, largest if b is None else b))
        naive.update(range(max(low, 1), high + 1))
    assert sorted(naive) == [n for low, high in seq.resolve(largest) for n in range(low, high + 1)]
    assert SequenceSet.of(str(seq)) == seq


def test_saved_result_marker() -> None:
    mixed = SequenceSet.of("1:3,$")
    assert mixed.saved and str(mixed) == "1:3,$"
    assert mixed.with_saved([9, 7]).resolve(10) == [(1, 3), (7, 7), (9, 9)]
    assert SequenceSet.of("$").with_saved([]).resolve(10) == []
    with pytest.raises(ValueError):
        mixed.resolve(10)
