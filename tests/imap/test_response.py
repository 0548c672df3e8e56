"""Serializers: replies, response codes, strings, data responses, dates."""

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pillarbox.imap import response as r
from pillarbox.imap.framing import FramedCommand
from pillarbox.imap.parser import parse_command
from pillarbox.imap.parser.primitives import Reader, parse_internal_date


def test_tagged_replies() -> None:
    assert r.ok("a1").to_bytes() == b"a1 OK Completed\r\n"
    assert r.no("a2", r.TRYCREATE, "No such mailbox").to_bytes() == b"a2 NO [TRYCREATE] No such mailbox\r\n"
    assert r.bad("a3", "Bad\r\nthing").to_bytes() == b"a3 BAD Bad  thing\r\n"
    assert r.bye("Logging out").to_bytes() == b"* BYE Logging out\r\n"
    assert r.UntaggedReply("OK", "Still here", r.code_uidvalidity(3857529045)).to_bytes() == (
        b"* OK [UIDVALIDITY 3857529045] Still here\r\n"
    )
    assert r.continuation() == b"+ Ready for literal data\r\n"


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (r.code_uidnext(4392), "UIDNEXT 4392"),
        (r.code_permanentflags(["\\Deleted", "\\Seen", "\\*"]), "PERMANENTFLAGS (\\Deleted \\Seen \\*)"),
        (r.code_highestmodseq(715194045007), "HIGHESTMODSEQ 715194045007"),
        (r.code_appenduid(38505, [3955]), "APPENDUID 38505 3955"),
        (r.code_appenduid(38505, [1, 2, 3, 5]), "APPENDUID 38505 1:3,5"),
        (r.code_copyuid(38505, [304, 319, 320, 321], [3956, 3957, 3958, 3959]), "COPYUID 38505 304,319:321 3956:3959"),
        (r.code_modified([7, 9, 8, 12]), "MODIFIED 7:9,12"),
        (r.code_capability(["IMAP4rev2", "IDLE"]), "CAPABILITY IMAP4rev2 IDLE"),
        (r.code_badcharset(), "BADCHARSET (UTF-8 US-ASCII)"),
        (r.code_mailboxid("F2212ea87-6097-4256-9d51-71338625"), "MAILBOXID (F2212ea87-6097-4256-9d51-71338625)"),
    ],
)
def test_response_codes(code: str, text: str) -> None:
    assert code == text


def test_uid_set() -> None:
    assert r.uid_set([1, 2, 3, 4, 5, 7]) == "1:5,7"
    assert r.uid_set([5, 3, 4, 3]) == "3:5"
    assert r.uid_set([]) == ""
    assert r.uid_set([9, 1, 2], sort=False) == "9,1:2"


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        ("hello", b'"hello"'),
        ('a"b\\c', b'"a\\"b\\\\c"'),
        ("", b'""'),
        ("line\r\nbreak", b"{11}\r\nline\r\nbreak"),
        ("caf\u00e9", b"{5}\r\ncaf\xc3\xa9"),
        (b"nul\x00", b"~{4}\r\nnul\x00"),
        ("x" * 2000, b"{2000}\r\n" + b"x" * 2000),
    ],
)
def test_string(value: str | bytes, wire: bytes) -> None:
    assert r.string(value) == wire


def test_string_utf8_mode_quotes_8bit() -> None:
    assert r.string("caf\u00e9", utf8=True) == '"caf\u00e9"'.encode()
    assert r.string(b"\xff", utf8=True) == b"{1}\r\n\xff"  # not UTF-8: literal


def test_nstring_astring_mailbox() -> None:
    assert r.nstring(None) == b"NIL"
    assert r.astring("foo]bar") == b"foo]bar"
    assert r.astring("two words") == b'"two words"'
    assert r.astring("NIL") == b'"NIL"'
    assert r.astring("") == b'""'
    assert r.mailbox("inbox") == b"INBOX"
    assert r.mailbox("Entwürfe") == b"Entw&APw-rfe"
    assert r.mailbox("Entwürfe", utf8=True) == '"Entwürfe"'.encode()
    assert r.mailbox("a%b") == b'"a%b"'


def _parse_string(wire: bytes, utf8: bool) -> bytes:
    reader = Reader(wire, utf8=utf8)
    value = reader.string()
    reader.end()
    return value


@given(st.binary(max_size=300), st.booleans())
def test_string_round_trip_bytes(data: bytes, utf8: bool) -> None:
    wire = r.string(data, utf8)
    if wire.startswith(b"~"):
        assert b"\x00" in data
        return
    assert _parse_string(wire, utf8) == data


@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=100), st.booleans())
def test_astring_round_trip_via_login(text: str, utf8: bool) -> None:
    wire = b"a LOGIN " + r.astring(text, utf8) + b" " + r.astring("pw", utf8)
    if b"~{" in wire:
        return
    command = parse_command(FramedCommand("a", wire), utf8=utf8)
    assert command.userid == text  # type: ignore[attr-defined]


@given(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40), st.booleans())
def test_mailbox_round_trip(name: str, utf8: bool) -> None:
    wire = b"a DELETE " + r.mailbox(name, utf8)
    if b"\x00" in wire:
        return
    command = parse_command(FramedCommand("a", wire), utf8=utf8)
    expected = "INBOX" if name.upper() == "INBOX" else name
    assert command.mailbox == expected  # type: ignore[attr-defined]


def test_internal_date() -> None:
    moment = datetime(1996, 7, 17, 2, 44, 25, tzinfo=timezone(timedelta(hours=-7)))
    assert r.format_internal_date(moment) == "17-Jul-1996 02:44:25 -0700"
    assert r.date_time(moment) == b'"17-Jul-1996 02:44:25 -0700"'
    early = datetime(2024, 3, 5, 9, 8, 7, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    assert r.date_time(early) == b'" 5-Mar-2024 09:08:07 +0530"'
    assert r.format_internal_date(datetime(2020, 1, 2, 3, 4, 5)) == "02-Jan-2020 03:04:05 +0000"
    assert parse_internal_date("17-Jul-1996 02:44:25 -0700") == moment
    assert parse_internal_date(" 5-Mar-2024 09:08:07 +0530") == early


@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(9999, 1, 1)), st.integers(-23 * 60, 23 * 60))
def test_internal_date_round_trip(moment: datetime, minutes: int) -> None:
    aware = moment.replace(microsecond=0, tzinfo=timezone(timedelta(minutes=minutes)))
    assert parse_internal_date(r.format_internal_date(aware)) == aware


def test_untagged_data() -> None:
    assert r.exists_data(23) == b"* 23 EXISTS\r\n"
    assert r.expunge_data(3) == b"* 3 EXPUNGE\r\n"
    assert r.flags_data(["\\Answered", "\\Seen"]) == b"* FLAGS (\\Answered \\Seen)\r\n"
    assert r.capability_data(["IMAP4rev2", "AUTH=PLAIN"]) == b"* CAPABILITY IMAP4rev2 AUTH=PLAIN\r\n"
    assert r.enabled_data(["CONDSTORE"]) == b"* ENABLED CONDSTORE\r\n"
    assert r.vanished_data([41, 43, 42, 50], earlier=True) == b"* VANISHED (EARLIER) 41:43,50\r\n"
    assert r.search_data([2, 84, 882]) == b"* SEARCH 2 84 882\r\n"
    assert r.search_data([], highest_modseq=None) == b"* SEARCH\r\n"
    assert r.search_data([2, 5], 917162500) == b"* SEARCH 2 5 (MODSEQ 917162500)\r\n"


def test_esearch() -> None:
    assert r.esearch_data("A282", False, [("MIN", 2), ("COUNT", 3)]) == b'* ESEARCH (TAG "A282") MIN 2 COUNT 3\r\n'
    assert r.esearch_data("A283", True, [("ALL", [4, 5, 6, 10, 11])]) == b'* ESEARCH (TAG "A283") UID ALL 4:6,10:11\r\n'
    assert r.esearch_data("A284", False, [("ALL", [])]) == b'* ESEARCH (TAG "A284")\r\n'


def test_list_lines() -> None:
    assert r.list_data("INBOX", ["\\HasNoChildren"], "/") == b'* LIST (\\HasNoChildren) "/" INBOX\r\n'
    assert r.list_data("Foo Bar", [], None) == b'* LIST () NIL "Foo Bar"\r\n'
    line = r.list_data("Foo", ["\\NonExistent"], "/", childinfo=["SUBSCRIBED"])
    assert line == b'* LIST (\\NonExistent) "/" Foo ("CHILDINFO" ("SUBSCRIBED"))\r\n'
    assert r.list_data("Tästen", ["\\Subscribed"], ".", command="LSUB") == b'* LSUB (\\Subscribed) "." T&AOQ-sten\r\n'
    assert r.list_data("Bar", [], "/", oldname="Foo") == b'* LIST () "/" Bar ("OLDNAME" (Foo))\r\n'


def test_status_line() -> None:
    items = [("MESSAGES", 231), ("UIDNEXT", 44292), ("MAILBOXID", "F1")]
    assert (
        r.status_data("blurdybloop", items) == b"* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292 MAILBOXID (F1))\r\n"
    )


def test_other_data() -> None:
    assert r.namespace_data([("", "/")], None, [("Public Folders/", "/")]) == (
        b'* NAMESPACE (("" "/")) NIL (("Public Folders/" "/"))\r\n'
    )
    assert r.id_data([("name", "Pillarbox"), ("version", None)]) == b'* ID ("name" "Pillarbox" "version" NIL)\r\n'
    assert r.id_data(None) == b"* ID NIL\r\n"
    assert r.quota_data("", [("STORAGE", 10, 512)]) == b'* QUOTA "" (STORAGE 10 512)\r\n'
    assert r.quotaroot_data("INBOX", [""]) == b'* QUOTAROOT INBOX ""\r\n'
    assert (
        r.fetch_data(12, [("FLAGS", b"(\\Seen)"), ("UID", b"4827313")])
        == b"* 12 FETCH (FLAGS (\\Seen) UID 4827313)\r\n"
    )


def test_lenient_single_digit_day() -> None:
    assert parse_internal_date("5-Mar-2024 09:08:07 +0530").day == 5
