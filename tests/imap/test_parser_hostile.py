"""Hostile input: only ProtocolError (from the parser) or framing events may ever come out."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pillarbox.errors import ProtocolError
from pillarbox.imap.framing import NEED_DATA, PAUSED, CommandFramer, FramedCommand
from pillarbox.imap.parser import parse_command
from pillarbox.imap.response import TaggedReply
from tests.imap.parser_helpers import parse, refused

VALID = [
    b"a1 CAPABILITY",
    b'a2 LOGIN {3}\r\nfoo "bar"',
    b"a3 AUTHENTICATE PLAIN AGZvbwBiYXI=",
    b"a4 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211 (1:5 10:14)))",
    b'a5 LIST (SUBSCRIBED RECURSIVEMATCH) "" ("%" "Sent/*") RETURN (CHILDREN STATUS (MESSAGES SIZE))',
    b"a6 STATUS Entw&APw-rfe (MESSAGES UIDNEXT MAILBOXID)",
    b'a7 APPEND x (\\Seen) "17-Jul-1996 02:44:25 -0700" {3}\r\nabc (\\Draft) ~{2}\r\n\x00\x01',
    b"a8 UID SEARCH RETURN (MIN MAX SAVE) CHARSET UTF-8 OR (FROM a SINCE 1-Jan-2000) NOT MODSEQ 5 UID 1:*,$",
    b"a9 UID FETCH 1:* (FLAGS BODY.PEEK[1.2.HEADER.FIELDS (From To)]<0.100> BINARY[2]) (CHANGEDSINCE 5 VANISHED)",
    b"b1 STORE 1,3:5 (UNCHANGEDSINCE 12) +FLAGS.SILENT (\\Seen $Junk)",
    b'b2 UID MOVE 1:* "Deleted Items"',
    b"b3 SORT (REVERSE DATE DISPLAYTO) UTF-8 HEADER X-Spam yes",
    b"b4 THREAD REFERENCES US-ASCII LARGER 100",
    b'b5 ID ("name" "x" "os" NIL)',
    b'b6 SETQUOTA "" (STORAGE 512 MESSAGE 100)',
    b"b7 CREATE Archive/2024 (USE (\\Archive))",
    b"b8 ENABLE CONDSTORE QRESYNC",
    b"b9 UID EXPUNGE 3000:3002",
    b"c1 RENAME a b",
    b"c2 COMPRESS DEFLATE",
]


def attempt(raw: bytes, utf8: bool = False) -> None:
    try:
        parse_command(FramedCommand("x", raw), utf8=utf8)
    except ProtocolError as exc:
        assert isinstance(exc.reply, TaggedReply)
        assert exc.reply.status in ("BAD", "NO")
        assert not str(exc).startswith("parser failure"), str(exc)  # the safety net must never be needed


@pytest.mark.parametrize("raw", VALID)
def test_valid_corpus_parses(raw: bytes) -> None:
    assert parse(raw).tag == raw.split(b" ")[0].decode()


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200), st.booleans())
def test_random_bytes(raw: bytes, utf8: bool) -> None:
    attempt(raw, utf8)
    attempt(b"a " + raw, utf8)


MUTATION_BYTES = list(b' ()[]{}<>"\\*%$:,.+-~0123456789\r\n\x00\x80\xffAZ')


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 6))):
        pos = draw(st.integers(0, len(data)))
        kind = draw(st.integers(0, 3))
        if kind == 0 and pos < len(data):
            del data[pos]
        elif kind == 1:
            data.insert(pos, draw(st.sampled_from(MUTATION_BYTES)))
        elif kind == 2:
            del data[pos:]
        elif pos < len(data):
            data[pos] = draw(st.sampled_from(MUTATION_BYTES))
    return bytes(data)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(), st.booleans())
def test_mutated_valid_commands(raw: bytes, utf8: bool) -> None:
    attempt(raw, utf8)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(VALID) | mutated(), max_size=8))
def test_framer_and_parser_pipeline(commands: list[bytes]) -> None:
    framer = CommandFramer(max_line=300, max_literal=100)
    framer.receive_data(b"\r\n".join(commands) + b"\r\n")
    while (event := framer.next_command()) is not NEED_DATA:
        if event is PAUSED:
            if framer.awaiting_continuation:
                framer.accept_literal()
            else:
                framer.resume()
        elif isinstance(event, FramedCommand):
            attempt(event.raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"a SEARCH ((SEEN)",
        b"a SEARCH (SEEN))",
        b"a FETCH 1 ((FLAGS))",
        b"a STORE 1 FLAGS ((\\Seen))",
        b'a LOGIN "unterminated',
        b'a LOGIN "bad\\escape" x',
        b"a LOGIN us\x00er x",
        b'a LOGIN "us\x00er" x',
        b"a LOGIN {5}\r\nab",
        b"a LOGIN {2}\r\nab",
        b"a LOGIN {99999999999999999999999}\r\nab x",
        b'a SELECT "caf\xc3\xa9"',
        b"a SELECT caf\xc3\xa9",
        b'a SEARCH SUBJECT "\xff"',
        b"a FETCH * BODY[" + b"1." * 5000 + b"1]",
        b"a SEARCH " + b"OR " * 300 + b"SEEN",
        b"a SEARCH " + b"(" * 100000,
        b"a FETCH 1:2:3 FLAGS",
        b"a FETCH 4294967296 FLAGS",
    ],
)
def test_hostile_cases_are_bad(raw: bytes) -> None:
    assert refused(raw).status == "BAD"


def test_star_star_is_fine() -> None:
    assert parse(b"a FETCH *:* FLAGS").name == "FETCH"


def test_utf8_mode_allows_8bit_quoted() -> None:
    assert parse('a SELECT "café"'.encode(), utf8=True).mailbox == "café"  # type: ignore[attr-defined]
    assert refused(b'a SELECT "caf\xff"', utf8=True).status == "BAD"
