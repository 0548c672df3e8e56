"""IMAP ENVELOPE: raw values, address lists (groups, routes, junk) and RFC 2047 decoding."""

from __future__ import annotations

import pytest

from pillarbox.mime import Address, decode_header_value, parse_address_list, parse_message
from pillarbox.mime.addresses import GROUP_END, MISSING_HOST
from pillarbox.mime.envelope import display_addresses

A = Address


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a@b.example", [A(None, None, "a", "b.example")]),
        ("Alice <a@b>", [A("Alice", None, "a", "b")]),
        ('"Smith, John" <j@x>, k@y', [A("Smith, John", None, "j", "x"), A(None, None, "k", "y")]),
        ("John Q. Public <jqp@x>", [A("John Q. Public", None, "jqp", "x")]),
        ("a@b (Alice Comment)", [A("Alice Comment", None, "a", "b")]),
        ("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>", [A("Pete", None, "pete", "silly.test")]),
        ("<@r1.example,@r2.example:joe@x>", [A(None, "@r1.example,@r2.example", "joe", "x")]),
        ("nodomain", [A(None, None, "nodomain", MISSING_HOST)]),
        ("Joe <joe>", [A("Joe", None, "joe", MISSING_HOST)]),
        ('"john doe"@x', [A(None, None, '"john doe"', "x")]),
        ('"john"@x', [A(None, None, "john", "x")]),
        ("user@[192.0.2.1]", [A(None, None, "user", "[192.0.2.1]")]),
        ("=?utf-8?q?J=C3=B6rg?= <j@x>", [A("=?utf-8?q?J=C3=B6rg?=", None, "j", "x")]),
        ("Jörg <jörg@bücher.example>", [A("Jörg", None, "jörg", "bücher.example")]),
        ("<>", [A(None, None, "", "")]),
        ("Unclosed <a@b", [A("Unclosed", None, "a", "b")]),
        (",,, ;;; <<>> @@", [A(None, None, "", "")]),
        ("", []),
    ],
)
def test_address_lists(value: str, expected: list[Address]) -> None:
    assert list(parse_address_list(value)) == expected


def test_rfc5322_group_example() -> None:
    # RFC 5322 A.1.3
    value = "A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;, Undisclosed recipients:;"
    assert parse_address_list(value) == (
        A(None, None, "A Group", None),
        A("Ed Jones", None, "c", "a.test"),
        A(None, None, "joe", "where.test"),
        A("John", None, "jdoe", "one.test"),
        GROUP_END,
        A(None, None, "Undisclosed recipients", None),
        GROUP_END,
    )
    assert parse_address_list(value)[0].is_group_start and GROUP_END.is_group_end


def test_unclosed_group_is_closed() -> None:
    assert parse_address_list("G: a@b") == (A(None, None, "G", None), A(None, None, "a", "b"), GROUP_END)


def test_envelope_raw_values_and_defaults() -> None:
    raw = (
        b"Date: Fri, 21 Nov 1997 09:55:06 -0600\r\n"
        b"Subject: =?iso-8859-1?q?caf=E9?=\r\n  and more\r\n"
        b"From: =?utf-8?b?w4lsb2lzZQ==?= <e@x.example>\r\n"
        b"To: b@y, Group:;\r\nCc: c@z\r\nBcc: d@w\r\n"
        b"In-Reply-To: <p@x> <q@x>\r\nReferences: <a@x>\r\n <p@x>\r\nMessage-ID:  <m@x>  \r\n\r\nbody"
    )
    parsed = parse_message(raw)
    env = parsed.envelope
    assert env.date == "Fri, 21 Nov 1997 09:55:06 -0600"
    assert env.subject == "=?iso-8859-1?q?caf=E9?=  and more"
    assert env.from_ == (A("=?utf-8?b?w4lsb2lzZQ==?=", None, "e", "x.example"),)
    assert env.sender == env.reply_to == env.from_
    assert env.to == (A(None, None, "b", "y"), A(None, None, "Group", None), GROUP_END)
    assert env.cc == (A(None, None, "c", "z"),) and env.bcc == (A(None, None, "d", "w"),)
    assert env.in_reply_to == "<p@x> <q@x>" and env.message_id == "<m@x>"
    assert parsed.subject == "café  and more"
    assert parsed.from_ == "Éloise <e@x.example>"
    assert parsed.in_reply_to == "<p@x>" and parsed.message_id == "<m@x>"
    assert parsed.references == ("<a@x>", "<p@x>")
    assert parsed.date is not None and parsed.date.isoformat() == "1997-11-21T09:55:06-06:00"


def test_empty_sender_and_reply_to_default_to_from() -> None:
    env = parse_message(b"From: a@b\r\nSender:\r\nReply-To: r@s\r\n\r\n").envelope
    assert env.sender == (A(None, None, "a", "b"),)
    assert env.reply_to == (A(None, None, "r", "s"),)


def test_missing_fields_are_nil() -> None:
    parsed = parse_message(b"X: y\r\n\r\n")
    env = parsed.envelope
    assert (env.date, env.subject, env.message_id, env.in_reply_to) == (None, None, None, None)
    assert env.from_ == env.sender == env.to == ()
    assert (parsed.subject, parsed.from_, parsed.date, parsed.message_id) == ("", "", None, None)


def test_bad_and_zoneless_dates() -> None:
    assert parse_message(b"Date: not a date\r\n\r\n").date is None
    zoneless = parse_message(b"Date: Fri, 21 Nov 1997 09:55:06 -0000\r\n\r\n").date
    assert zoneless is not None and zoneless.utcoffset() is not None


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("plain text", "plain text"),
        ("=?ISO-8859-1?Q?a?=", "a"),  # RFC 2047 8
        ("=?ISO-8859-1?Q?a?= b", "a b"),
        ("=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=", "ab"),
        ("=?ISO-8859-1?Q?a?=  \t =?ISO-8859-1?Q?b?=", "ab"),
        ("=?ISO-8859-1?Q?a_b?=", "a b"),
        ("=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=", "a b"),
        ("(=?ISO-8859-1?Q?a?= b)", "(a b)"),
        ("=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore"),  # RFC 2231 5 language suffix
        ("=?utf-8?B?w6k=?=", "é"),
        ("=?utf-8?b?w6k?=", "é"),  # missing padding
        ("=?utf-8?q?=C3?= =?utf-8?q?=A9?=", "é"),  # a character split across two words
        ("=?x-unknown?q?abc?= tail", "=?x-unknown?q?abc?= tail"),
        ("=?base64?q?abc?=", "=?base64?q?abc?="),  # not a text codec
        ("=?utf-8?q?Hello World?=", "Hello World"),
        ("=?utf-8?q?bad=ZZ?=", "bad=ZZ"),
        ("x=?utf-8?q?a?=y", "xay"),
        ("=?utf-8?q?unterminated", "=?utf-8?q?unterminated"),
    ],
)
def test_decode_header_value(raw: str, decoded: str) -> None:
    assert decode_header_value(raw) == decoded


@pytest.mark.parametrize(
    ("field", "shown"),
    [
        ("Alice <a@x>, b@y", "Alice <a@x>, b@y"),
        ("undisclosed-recipients:;", "undisclosed-recipients:;"),
        ('Friends: x@example.org, "Y Z" <y@example.org>;, c@z', "Friends: x@example.org, Y Z <y@example.org>;, c@z"),
        ("=?utf-8?q?Gr=C3=BCppe?=: a@b;", "Grüppe: a@b;"),
        ("Open: a@b", "Open: a@b;"),  # a group left open is closed at the end
    ],
)
def test_display_addresses_keep_group_names(field: str, shown: str) -> None:
    """What SEARCH FROM/TO/CC/BCC match (RFC 9051 6.4.4): a group's name is part of the field."""
    assert display_addresses(parse_address_list(field)) == shown
