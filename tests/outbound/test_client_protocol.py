"""The sans-IO SMTP client core, driven by bytes alone (transcripts)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pillarbox.smtp.client_protocol import (
    ClientProtocolError,
    Envelope,
    Extensions,
    MailTransaction,
    ReplyParser,
    dot_stuff,
    dsn_rcpt_params,
)

EHLO = b"250-mx.b.test hello\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-8BITMIME\r\n250 DSN\r\n"


def replies(data: bytes):
    parser = ReplyParser()
    parser.receive_data(data)
    return parser.replies


def test_multiline_reply_and_extensions():
    [reply] = replies(EHLO)
    ext = Extensions.parse(reply)
    assert reply.code == 250 and "PIPELINING" in ext and "DSN" in ext and ext.size_limit == 1000


@given(st.integers(min_value=1, max_value=len(EHLO) - 1))
def test_reply_split_anywhere(cut: int):
    parser = ReplyParser()
    parser.receive_data(EHLO[:cut])
    parser.receive_data(EHLO[cut:])
    assert [r.code for r in parser.replies] == [250] and len(parser.replies[0].lines) == 5


def test_enhanced_code_and_diagnostic():
    [reply] = replies(b"550 5.1.1 <x@b.test>: no such user\r\n")
    assert reply.enhanced == "5.1.1" and reply.diagnostic() == "smtp; 550 5.1.1 <x@b.test>: no such user"
    [plain] = replies(b"451 try later\r\n")
    assert plain.enhanced is None and plain.status() == "4.0.0"


@pytest.mark.parametrize("junk", [b"hello\r\n", b"99 x\r\n", b"250x\r\n", b"700 no\r\n"])
def test_not_a_reply(junk: bytes):
    with pytest.raises(ClientProtocolError):
        replies(junk)


def test_dot_stuffing():
    assert dot_stuff(b"a\r\n.b\r\n..c\r\n") == b"a\r\n..b\r\n...c\r\n.\r\n"
    assert dot_stuff(b"no newline") == b"no newline\r\n.\r\n"
    assert dot_stuff(b".\nx") == b"..\r\nx\r\n.\r\n"


def feed(transaction: MailTransaction, data: bytes) -> None:
    for reply in replies(data):
        transaction.handle(reply)


def test_pipelined_transcript_one_recipient_refused():
    env = Envelope("a@a.test", ("b@b.test", "x@b.test"), ("SIZE=10",), (("NOTIFY=SUCCESS",), ()))
    t = MailTransaction(env, b"Subject: hi\r\n\r\nbody\r\n", pipelining=True)
    assert t.commands() == (b"MAIL FROM:<a@a.test> SIZE=10\r\nRCPT TO:<b@b.test> NOTIFY=SUCCESS\r\n"
                            b"RCPT TO:<x@b.test>\r\nDATA\r\n")
    assert t.commands() == b""  # nothing more until the replies came
    feed(t, b"250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 unknown\r\n354 go\r\n")
    assert t.sending_body and t.body().endswith(b"\r\n.\r\n")
    feed(t, b"250 2.0.0 queued\r\n")
    assert t.done and t.accepted_positions() == [0]
    assert [(v.code, v.status()) for v in t.verdicts()] == [(250, "2.0.0"), (550, "5.1.1")]


def test_pipelined_no_recipient_accepted_sends_lone_dot():
    t = MailTransaction(Envelope("a@a.test", ("x@b.test",)), b"m\r\n", pipelining=True)
    t.commands()
    feed(t, b"250 ok\r\n550 5.1.1 no\r\n354 go\r\n")
    assert t.body() == b".\r\n"


def test_without_pipelining_one_command_at_a_time_and_no_data_when_all_refused():
    t = MailTransaction(Envelope("a@a.test", ("x@b.test",)), b"m\r\n", pipelining=False)
    assert t.commands() == b"MAIL FROM:<a@a.test>\r\n"
    feed(t, b"250 ok\r\n")
    assert t.commands() == b"RCPT TO:<x@b.test>\r\n"
    feed(t, b"450 4.2.1 busy\r\n")
    assert t.done and t.commands() == b"" and t.verdicts()[0].is_transient


def test_mail_refused_decides_every_recipient():
    t = MailTransaction(Envelope("a@a.test", ("x@b.test", "y@b.test")), b"m\r\n", pipelining=False)
    t.commands()
    feed(t, b"421 4.3.2 shutting down\r\n")
    assert t.done and [v.code for v in t.verdicts()] == [421, 421]


def test_dsn_params_xtext():
    assert dsn_rcpt_params(("SUCCESS", "FAILURE"), "rfc822;a+b=c@x.test") == (
        "NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;a+2Bb+3Dc@x.test")
