"""ESEARCH/ESORT return data and PARTIAL (RFC 4731, 5267, 9394): the RFC examples, then properties."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pillarbox.imap.esearch import partial_positions, reported_positions, return_data
from pillarbox.imap.parser import Fetch, MultiSearch, SearchReturn, Sort
from pillarbox.imap.parser.mailbox_filter import MailboxFilter
from tests.imap.parser_helpers import parse, refused


def test_rfc_9394_examples() -> None:
    command = parse(b"A01 UID SEARCH RETURN (PARTIAL -1:-100) UNDELETED UNKEYWORD $Junk")
    assert command.returns == SearchReturn(("PARTIAL",), (-1, -100))  # type: ignore[attr-defined]
    results = list(range(1, 23765))
    assert return_data(SearchReturn(("PARTIAL",), (24000, 24500)), results) == [("PARTIAL", "(24000:24500 NIL)")]
    spanning_the_end = return_data(SearchReturn(("PARTIAL",), (23500, 24000)), results)
    assert spanning_the_end == [("PARTIAL", "(23500:24000 23500:23764)")]
    fetch = parse(b"101 UID FETCH 25900:26600 (UID FLAGS) (PARTIAL -1:-30 CHANGEDSINCE 98305)")
    assert isinstance(fetch, Fetch) and fetch.modifiers.partial == (-1, -30) and fetch.modifiers.changedsince == 98305
    assert refused(b"10 FETCH 1:* (FLAGS) (PARTIAL 1:5)").status == "BAD"
    assert refused(b"a SEARCH RETURN (PARTIAL 1:5 ALL) ALL").status == "BAD"
    assert refused(b"a SEARCH RETURN (PARTIAL 1:5 PARTIAL 6:7) ALL").status == "BAD"
    assert refused(b"a SEARCH RETURN (PARTIAL 1:*) ALL").status == "BAD"


def test_rfc_5267_esort_example() -> None:
    command = parse(b"E01 UID SORT RETURN () (REVERSE DATE) UTF-8 UNDELETED UNKEYWORD $Junk")
    assert isinstance(command, Sort) and command.returns == SearchReturn(())
    assert return_data(SearchReturn(()), [23765, 23764, 23763, 23761], ordered=True) == [
        ("ALL", "23765,23764,23763,23761")  # 3.3: not the range 23765:23763
    ]


def test_save_keeps_what_the_result_reports() -> None:  # RFC 9394 3.2 table 1
    assert reported_positions(SearchReturn(("SAVE", "PARTIAL"), (2, 3)), 6) == [1, 2]
    assert reported_positions(SearchReturn(("SAVE", "PARTIAL", "MIN", "MAX"), (2, 3)), 6) == [0, 1, 2, 5]
    assert reported_positions(SearchReturn(("SAVE", "PARTIAL", "COUNT", "MIN"), (2, 3)), 6) == list(range(6))
    assert reported_positions(SearchReturn(("SAVE",)), 3) == [0, 1, 2]
    assert reported_positions(SearchReturn(("SAVE", "MAX")), 0) == []


@given(st.integers(1, 60), st.integers(1, 60), st.booleans(), st.integers(0, 50))
def test_partial_is_the_slice_it_names(first: int, last: int, from_end: bool, count: int) -> None:
    results = list(range(count))
    low, high = sorted((first, last))
    expected = results[::-1][low - 1 : high][::-1] if from_end else results[low - 1 : high]
    partial = (-first, -last) if from_end else (first, last)
    assert list(partial_positions(partial, count)) == expected


@given(st.lists(st.integers(1, 10**6), unique=True, max_size=30))
def test_an_ordered_all_names_the_same_numbers_in_the_same_order(numbers: list[int]) -> None:
    [(_name, text)] = return_data(SearchReturn(("ALL",)), numbers, ordered=True) or [("ALL", "")]
    expanded: list[int] = []
    for piece in filter(None, str(text).split(",")):
        low, _, high = piece.partition(":")
        assert not high or int(low) < int(high)  # ranges only ascend (RFC 5267 3.2)
        expanded.extend(range(int(low), int(high or low) + 1))
    assert expanded == numbers


def test_rfc_7377_esearch_parses() -> None:
    command = parse(b'tag2 ESEARCH IN (mailboxes "folder1" subtree-one "folder2") subject "chad"')
    assert isinstance(command, MultiSearch)
    assert command.sources == (MailboxFilter("MAILBOXES", ("folder1",)), MailboxFilter("SUBTREE-ONE", ("folder2",)))
    command = parse(b"t ESEARCH IN (personal inboxes subtree (a b a)) RETURN (COUNT) CHARSET UTF-8 ALL")
    assert isinstance(command, MultiSearch) and command.charset == "UTF-8"
    subtree = MailboxFilter("SUBTREE", ("a", "b"))
    assert command.sources == (MailboxFilter("PERSONAL"), MailboxFilter("INBOXES"), subtree)
    assert parse(b"t ESEARCH UNSEEN").sources == ()  # type: ignore[attr-defined]
    for bad in (b"t ESEARCH IN () ALL", b"t ESEARCH IN (selected-delayed) ALL", b"t ESEARCH IN (subtree) ALL",
                b"t ESEARCH IN (personal) ", b"t ESEARCH IN (personal (opt)) ALL"):
        assert refused(bad).status == "BAD"


def test_catenate_parts_and_message_urls_parse() -> None:
    from pillarbox.imap.imap_url import MessageURL, parse_message_url
    from pillarbox.imap.parser import Append

    command = parse(b'A3 APPEND Drafts (\\Seen) CATENATE (URL "/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER"'
                    b" TEXT {5+}\r\n--b\r\n)")
    assert isinstance(command, Append)
    assert command.messages[0].catenate == (
        ("URL", b"/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER"), ("TEXT", b"--b\r\n"))
    assert parse_message_url("/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1.MIME") == MessageURL(
        "Drafts", 20, 385759045, "1.MIME")
    assert parse_message_url("/A%20B/C/;UID=2/;PARTIAL=5.10") == MessageURL("A B/C", 2, partial=(5, 10))
    for bad in ("imap://u@h/Drafts/;UID=1", "/Drafts;UID=1", "/Drafts/;UID=0", ";UID=3", "/Drafts/;UID=1/;SECTION="):
        try:
            parse_message_url(bad)
        except ValueError:
            continue
        raise AssertionError(bad)
