"""The sans-IO core alone: framing, the command grammar, the state table, limits, dot-stuffing, TOP."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pillarbox.pop3 import replies
from pillarbox.pop3.protocol import (
    ALLOWED,
    CLOSED,
    KNOWN,
    NEED_DATA,
    Command,
    Invalid,
    POP3ServerProtocol,
    SaslResponse,
    State,
    multiline,
    stuff_message,
    top_of,
    unstuff,
)


def events(core: POP3ServerProtocol, data: bytes) -> list[object]:
    core.receive_data(data)
    out = []
    while (event := core.next_event()) is not NEED_DATA and event is not CLOSED:
        out.append(event)
    return out


def transaction_core(**kwargs: int) -> POP3ServerProtocol:
    core = POP3ServerProtocol(**kwargs)
    core.authenticated()
    return core


@pytest.mark.parametrize(("line", "expected"), [
    (b"STAT", Command("STAT")),
    (b"stat", Command("STAT")),
    (b"LIST", Command("LIST")),
    (b"LIST 3", Command("LIST", (3,))),
    (b"UIDL 12", Command("UIDL", (12,))),
    (b"RETR 1", Command("RETR", (1,))),
    (b"DELE 2", Command("DELE", (2,))),
    (b"TOP 1 0", Command("TOP", (1, 0))),
    (b"NOOP", Command("NOOP")),
    (b"RSET", Command("RSET")),
    (b"QUIT", Command("QUIT")),
    (b"CAPA", Command("CAPA")),
    (b"RETR", Invalid(replies.SYNTAX_ERROR)),
    (b"RETR x", Invalid(replies.INVALID_NUMBER)),
    (b"RETR " + b"9" * 4000, Invalid(replies.INVALID_NUMBER)),
    (b"RETR -1", Invalid(replies.INVALID_NUMBER)),
    (b"TOP 1", Invalid(replies.SYNTAX_ERROR)),
    (b"LIST 1 2", Invalid(replies.SYNTAX_ERROR)),
    (b"STAT now", Invalid(replies.SYNTAX_ERROR)),
    (b"USER bob", Invalid(replies.WRONG_STATE)),
    (b"XYZZY", Invalid(replies.UNKNOWN_COMMAND)),
    (b"", Invalid(replies.UNKNOWN_COMMAND)),
    (b"RETR 1\x00", Invalid(replies.SYNTAX_ERROR)),
    (b"RETR \xff", Invalid(replies.NOT_UTF8)),
])
def test_transaction_commands_parse(line: bytes, expected: object):
    assert events(transaction_core(), line + b"\r\n") == [expected]


@pytest.mark.parametrize(("line", "expected"), [
    (b"USER bob@example.com", Command("USER", ("bob@example.com",))),
    (b"PASS with spaces  in it", Command("PASS", ("with spaces  in it",))),
    (b"PASS p\xc3\xa4ss", Command("PASS", ("p\u00e4ss",))),
    (b"AUTH", Command("AUTH")),
    (b"AUTH PLAIN", Command("AUTH", ("PLAIN",))),
    (b"AUTH PLAIN AGJvYgBwdw==", Command("AUTH", ("PLAIN", "AGJvYgBwdw=="))),
    (b"AUTH PLAIN a b", Invalid(replies.SYNTAX_ERROR)),
    (b"APOP bob 0123456789abcdef", Command("APOP", ("bob", "0123456789abcdef"))),
    (b"STLS", Command("STLS")),
    (b"UTF8", Command("UTF8")),
    (b"USER", Invalid(replies.SYNTAX_ERROR)),
    (b"STAT", Invalid(replies.WRONG_STATE)),
    (b"RETR 1", Invalid(replies.WRONG_STATE)),
])
def test_authorization_commands_parse(line: bytes, expected: object):
    assert events(POP3ServerProtocol(), line + b"\r\n") == [expected]


def test_state_table_covers_rfc1939():
    assert {"USER", "PASS", "APOP", "QUIT"} <= ALLOWED[State.AUTHORIZATION]
    assert {"STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "QUIT", "TOP", "UIDL"} <= ALLOWED[State.TRANSACTION]
    assert not ALLOWED[State.UPDATE]
    assert "CAPA" in ALLOWED[State.AUTHORIZATION] and "CAPA" in ALLOWED[State.TRANSACTION]


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("verb", sorted(KNOWN))
def test_every_command_in_every_state_is_a_command_or_wrong_state(state: State, verb: str):
    core = POP3ServerProtocol()
    core.state = state
    got = events(core, verb.encode() + b"\r\n")
    if state is State.UPDATE:
        assert got == []
    elif verb in ALLOWED[state]:
        assert got and isinstance(got[0], Command | Invalid) and got[0] != Invalid(replies.WRONG_STATE)
    else:
        assert got == [Invalid(replies.WRONG_STATE)]


def test_pipelined_commands_in_one_packet_come_out_in_order():
    got = events(transaction_core(), b"STAT\r\nLIST\r\nRETR 1\r\nDELE 1\r\nQUIT\r\n")
    assert [e.verb for e in got] == ["STAT", "LIST", "RETR", "DELE", "QUIT"]  # type: ignore[attr-defined]


def test_bare_lf_is_tolerated_and_partial_lines_wait():
    core = transaction_core()
    assert events(core, b"STA") == []
    assert events(core, b"T\nNOOP\r") == [Command("STAT")]
    assert events(core, b"\n") == [Command("NOOP")]


def test_line_too_long_is_refused_once_and_the_stream_resyncs():
    core = transaction_core(line_limit=512)
    got = events(core, b"NOOP " + b"x" * 600)
    assert got == [Invalid(replies.LINE_TOO_LONG)]
    assert events(core, b"y" * 5000) == []  # still inside the long line: dropped, not buffered
    assert len(core._buf) == 0
    assert events(core, b"zz\r\nSTAT\r\n") == [Command("STAT")]


def test_line_exactly_at_the_limit_is_accepted():
    core = transaction_core(line_limit=255)  # RFC 2449 4: 255 octets including CRLF
    line = b"LIST 1" + b" " * 0
    assert events(core, line + b"\r\n") == [Command("LIST", (1,))]
    long = b"PASS " + b"a" * (255 - 7) + b"\r\n"
    core = POP3ServerProtocol(line_limit=255)
    assert len(long) == 255
    assert events(core, long) == [Command("PASS", ("a" * 248,))]
    assert events(POP3ServerProtocol(line_limit=255), b"PASS " + b"a" * 249 + b"\r\n") == [
        Invalid(replies.LINE_TOO_LONG)]


def test_sasl_response_is_one_line_not_a_command():
    core = POP3ServerProtocol()
    assert events(core, b"AUTH PLAIN\r\n") == [Command("AUTH", ("PLAIN",))]
    core.expect_sasl_response()
    assert events(core, b"QUIT\r\nQUIT\r\n") == [SaslResponse(b"QUIT"), Command("QUIT")]


def test_start_tls_drops_what_was_pipelined_behind_stls():
    core = POP3ServerProtocol()
    core.receive_data(b"STLS\r\nUSER evil\r\n")
    assert core.next_event() == Command("STLS")
    assert core.start_tls() == len(b"USER evil\r\n")
    assert core.next_event() is NEED_DATA


def test_eof_and_close():
    core = POP3ServerProtocol()
    core.receive_data(b"NOOP")
    core.receive_data(b"")
    assert core.next_event() is CLOSED
    core = transaction_core()
    core.close()
    core.receive_data(b"STAT\r\n")
    assert core.next_event() is CLOSED


COMMANDS = st.sampled_from([b"USER bob", b"PASS x y", b"STAT", b"LIST", b"LIST 1", b"RETR 1", b"TOP 1 2",
                            b"DELE 1", b"UIDL", b"AUTH PLAIN", b"CAPA", b"STLS", b"UTF8", b"APOP a b",
                            b"NOOP", b"RSET", b"list 99999999999", b"\xff\xfe", b"RETR"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(COMMANDS, st.binary(max_size=40)), max_size=20), st.data(), st.sampled_from(list(State)))
def test_whole_input_equals_byte_at_a_time(lines: list[bytes], data: st.DataObject, state: State):
    stream = b"".join(line + data.draw(st.sampled_from([b"\r\n", b"\n", b""])) for line in lines)
    whole, single = POP3ServerProtocol(line_limit=64), POP3ServerProtocol(line_limit=64)
    whole.state = single.state = state
    expected = events(whole, stream)
    got = []
    for i in range(len(stream)):
        got += events(single, stream[i:i + 1])
    assert got == expected


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), st.sampled_from(list(State)))
def test_random_bytes_give_only_known_events(data: bytes, state: State):
    core = POP3ServerProtocol(line_limit=100)
    core.state = state
    for event in events(core, data):
        assert isinstance(event, Command | Invalid | SaslResponse)
        if isinstance(event, Command):
            assert event.verb in ALLOWED[state]
        if isinstance(event, Invalid):
            assert not event.reply.ok


# -- output -------------------------------------------------------------------------------------

LINE_TEXT = st.binary(max_size=30).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
MESSAGES = st.lists(st.one_of(LINE_TEXT, st.sampled_from([b".", b"..", b".\r", b". ", b""])), max_size=30).map(
    lambda lines: b"".join(line + b"\r\n" for line in lines))


@settings(max_examples=300, deadline=None)
@given(MESSAGES, st.integers(min_value=1, max_value=50))
def test_dot_stuffing_round_trips_exactly(data: bytes, chunk: int):
    chunks = list(stuff_message(data, chunk_size=chunk))
    sent = b"".join(chunks)
    assert unstuff(sent) == data
    body = sent[:-3]
    # the terminator appears only at the very end: no line of the body is a lone "."
    assert b"\r\n.\r\n" not in b"\r\n" + body
    assert all(c.endswith(b"\n") for c in chunks[:-1])


def test_dot_stuffing_adds_a_line_end_when_missing():
    assert b"".join(stuff_message(b"abc")) == b"abc\r\n.\r\n"
    assert b"".join(stuff_message(b"")) == b".\r\n"
    assert b"".join(stuff_message(b".\r\n")) == b"..\r\n.\r\n"


def test_multiline_stuffs_and_terminates():
    assert multiline(replies.CAPA, ["TOP", ".x"]) == b"+OK Capability list follows\r\nTOP\r\n..x\r\n.\r\n"


MESSAGE = b"From: a\r\nSubject: s\r\n\r\nline 1\r\nline 2\r\nline 3\r\n"


@pytest.mark.parametrize(("n", "expected"), [
    (0, b"From: a\r\nSubject: s\r\n\r\n"),
    (1, b"From: a\r\nSubject: s\r\n\r\nline 1\r\n"),
    (3, MESSAGE),
    (99, MESSAGE),
])
def test_top_returns_header_and_n_body_lines(n: int, expected: bytes):
    assert top_of(MESSAGE, n) == expected


def test_top_of_a_message_without_body_or_header():
    assert top_of(b"Subject: x\r\n", 5) == b"Subject: x\r\n"
    assert top_of(b"\r\nbody\r\nmore\r\n", 1) == b"\r\nbody\r\n"
    assert top_of(b"A: b\n\nbody\n", 0) == b"A: b\n\n"


def test_the_status_line_rides_in_the_first_chunk_and_a_small_message_is_one_write():
    assert list(stuff_message(b"a\r\n.b\r\n", head=b"+OK 7 octets\r\n")) == [b"+OK 7 octets\r\na\r\n..b\r\n.\r\n"]
    chunks = list(stuff_message(b".x\r\ny\r\n", chunk_size=2, head=b"+OK\r\n"))
    assert chunks == [b"+OK\r\n..x\r\n", b"y\r\n.\r\n"]


def test_format_keeps_every_field_but_the_text():
    reply = replies.Reply(False, "x {n}", "SYS/TEMP", fault=True)
    assert reply.format(n=1) == replies.Reply(False, "x 1", "SYS/TEMP", fault=True)
