"""The sans-IO server core: framing, DATA end detection, smuggling defence, BDAT, pipelining, TLS."""

from __future__ import annotations

import pytest

from pillarbox.smtp import replies
from pillarbox.smtp import server_protocol as sp
from tests.smtp.helpers import drive, drive_bytewise, fold


def new(**kwargs: int) -> sp.SMTPServerProtocol:
    return sp.SMTPServerProtocol(**kwargs)


def in_data(**kwargs: int) -> sp.SMTPServerProtocol:
    core = new(**kwargs)
    assert drive(core, b"DATA\r\n") == [sp.Data()]
    assert core.state is sp.State.DATA
    return core


# -- commands --------------------------------------------------------------------------------------


def test_commands_parse_into_events() -> None:
    events = drive(
        new(), b"EHLO client.example\r\nhelo x\r\nNOOP anything\r\nVRFY bob\r\nEXPN list\r\nHELP\r\nRSET\r\n"
    )
    assert events == [
        sp.Ehlo("client.example"),
        sp.Helo("x"),
        sp.Noop(),
        sp.Vrfy("bob"),
        sp.Expn("list"),
        sp.Help(""),
        sp.Rset(),
    ]


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        (b"FOO bar\r\n", replies.SYNTAX_ERROR),
        (b"\r\n", replies.SYNTAX_ERROR),
        (b"DATA now\r\n", replies.PARAM_SYNTAX.with_text("This command takes no arguments")),
        (b"VRFY\r\n", replies.PARAM_SYNTAX.with_text("Argument required")),
        (b"MAIL FROM:<a@b> FOO=1\r\n", replies.PARAM_NOT_RECOGNIZED.with_text("Parameter FOO not recognized")),
        (b"MAIL FROM:<j\xc3\xb6@b>\r\n", replies.NON_ASCII_ADDRESS),
    ],
)
def test_syntax_errors_are_events(line: bytes, reply: replies.Reply) -> None:
    (event,) = drive(new(), line)
    assert isinstance(event, sp.Invalid) and event.reply == reply


def test_invalid_utf8_and_control_characters() -> None:
    events = drive(new(), b"MAIL FROM:<\xff@b>\r\nNOOP \x00\r\n")
    assert [e.reply.code for e in events if isinstance(e, sp.Invalid)] == [500, 500]


def test_bare_lf_tolerated_at_command_level() -> None:
    assert drive(new(), b"NOOP\nRSET\r\n") == [sp.Noop(), sp.Rset()]


def test_trailing_spaces_tolerated() -> None:
    assert drive(new(), b"QUIT  \r\n") == [sp.Quit()]


def test_line_too_long_is_discarded_up_to_its_end() -> None:
    core = new(line_limit=64)
    events = drive(core, b"NOOP " + b"x" * 100 + b"\r\nRSET\r\n")
    assert events == [sp.Invalid(replies.LINE_TOO_LONG), sp.Rset()]


def test_line_too_long_without_end_does_not_buffer() -> None:
    core = new(line_limit=64)
    assert drive(core, b"x" * 100) == [sp.Invalid(replies.LINE_TOO_LONG)]
    assert drive(core, b"y" * 10_000) == []
    assert len(core._buf) == 0
    assert drive(core, b"z\r\nNOOP\r\n") == [sp.Noop()]


def test_line_exactly_at_limit_is_accepted() -> None:
    line = b"NOOP " + b"x" * (64 - 7) + b"\r\n"
    assert len(line) == 64
    assert drive(new(line_limit=64), line) == [sp.Noop()]
    assert drive(new(line_limit=63), line) == [sp.Invalid(replies.LINE_TOO_LONG)]


def test_auth_lines_may_be_longer() -> None:
    response = b"A" * 8000
    (event,) = drive(new(), b"AUTH PLAIN " + response + b"\r\n")
    assert event == sp.Auth("PLAIN", response)


# -- pipelining (RFC 2920) -------------------------------------------------------------------------


def test_pipelined_transaction_in_one_packet() -> None:
    packet = b"MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nRCPT TO:<e@f.example>\r\nDATA\r\n"
    events = drive(new(), packet)
    assert [type(e) for e in events] == [sp.Mail, sp.Rcpt, sp.Rcpt, sp.Data]
    assert events[1].args.address == "c@d.example"  # type: ignore[attr-defined]


def test_core_pauses_after_data_until_the_session_decides() -> None:
    core = new()
    core.receive_data(b"DATA\r\nhello\r\n.\r\n")
    assert core.next_event() == sp.Data()
    assert core.next_event() is sp.PAUSED
    assert core.has_buffered_input
    core.start_data()
    assert core.next_event() == sp.MessageComplete(b"hello\r\n")
    assert core.next_event() is sp.NEED_DATA and not core.has_buffered_input


def test_refused_data_leaves_following_lines_as_commands() -> None:
    events = drive(new(), b"DATA\r\nRSET\r\n", accept_data=False)
    assert events == [sp.Data(), sp.Rset()]


def test_quit_closes_and_ignores_the_rest() -> None:
    core = new()
    assert drive(core, b"QUIT\r\nNOOP\r\n") == [sp.Quit()]
    assert core.next_event() is sp.CLOSED
    assert drive(core, b"NOOP\r\n") == []


# -- DATA ------------------------------------------------------------------------------------------


def test_dot_unstuffing() -> None:
    core = in_data()
    events = drive(core, b"..leading dot\r\n\r\n...\r\nmid.dle\r\n.\r\n")
    assert events == [sp.MessageComplete(b".leading dot\r\n\r\n..\r\nmid.dle\r\n")]


def test_empty_message() -> None:
    assert drive(in_data(), b".\r\n") == [sp.MessageComplete(b"")]


def test_dot_at_start_of_data_is_unstuffed() -> None:
    assert drive(in_data(), b"..x\r\n.\r\n") == [sp.MessageComplete(b".x\r\n")]


def test_command_after_message_is_parsed() -> None:
    events = drive(in_data(), b"body\r\n.\r\nMAIL FROM:<>\r\n")
    assert [type(e) for e in events] == [sp.MessageComplete, sp.Mail]


SMUGGLING = [b"\n.\n", b"\n.\r\n", b"\r.\r", b"\r\n.\r", b"\r\n.\n", b"\r.\r\n", b"\n.\r"]


@pytest.mark.parametrize("fake_end", SMUGGLING)
def test_smuggling_sequences_never_end_data_and_refuse_the_message(fake_end: bytes) -> None:
    smuggled = b"MAIL FROM:<evil@example.net>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\nforged\r\n"
    core = in_data()
    events = drive(core, b"Subject: hi\r\n\r\nbody" + fake_end + smuggled + b".\r\nNOOP\r\n")
    assert events == [sp.MessageRejected(replies.BARE_LINE_ENDING, events[0].size), sp.Noop()]  # type: ignore[attr-defined]


@pytest.mark.parametrize("content", [b"a\nb\r\n", b"a\rb\r\n", b"a\r\r\n", b"\n", b"x\r\n\r"])
def test_bare_cr_or_lf_anywhere_refuses(content: bytes) -> None:
    (event,) = drive(in_data(), content + b"\r\n.\r\n")
    assert isinstance(event, sp.MessageRejected) and event.reply == replies.BARE_LINE_ENDING


def test_oversize_message_is_consumed_and_stream_stays_in_sync() -> None:
    core = in_data(max_message_size=100)
    body = b"".join(b"line %d of a long message\r\n" % i for i in range(50))
    events = drive(core, body + b".\r\nRSET\r\n")
    assert events == [sp.MessageRejected(replies.SIZE_EXCEEDED, len(body)), sp.Rset()]


def test_message_exactly_at_size_limit() -> None:
    assert drive(in_data(max_message_size=6), b"12345\r\n.\r\n") == [sp.MessageRejected(replies.SIZE_EXCEEDED, 7)]
    assert drive(in_data(max_message_size=7), b"12345\r\n.\r\n") == [sp.MessageComplete(b"12345\r\n")]


def test_very_long_line_in_data_is_flushed_not_buffered() -> None:
    core = in_data()
    assert drive(core, b"." + b"x" * 100_000) == [sp.Content(b"x" * 100_000)]  # unstuffed, handed over
    assert len(core._buf) < 8192
    assert drive(core, b"\r\n.\r\n") == [sp.MessageComplete(b"\r\n")]


def test_content_is_handed_over_as_it_arrives_not_kept() -> None:
    core = in_data()
    pieces = [drive(core, b"line %d\r\n" % n + b"x" * 9) for n in range(3)]
    assert pieces == [[sp.Content(b"line 0\r\n")], [sp.Content(b"x" * 9 + b"line 1\r\n")],
                      [sp.Content(b"x" * 9 + b"line 2\r\n")]]
    assert len(core._buf) == 9  # only the unfinished line waits in the core
    assert drive(core, b"\r\n.\r\n") == [sp.MessageComplete(b"x" * 9 + b"\r\n")]


def test_cr_split_across_packets_is_not_bare() -> None:
    core = in_data()
    assert drive(core, b"x" * 9000 + b"\r") == [sp.Content(b"x" * 9000)]
    assert drive(core, b"\n.\r\n") == [sp.MessageComplete(b"\r\n")]


# -- BDAT (RFC 3030) -------------------------------------------------------------------------------


def test_bdat_chunk_is_binary_and_not_interpreted() -> None:
    chunk = b"a\r\n.\r\nQUIT\r\n\x00\xff\n"
    events = drive(new(), b"BDAT %d\r\n" % len(chunk) + chunk + b"BDAT 0 LAST\r\nNOOP\r\n")
    assert events == [sp.BdatChunk(chunk, False, len(chunk)), sp.BdatChunk(b"", True, 0), sp.Noop()]


def test_bdat_last_case_insensitive_and_split_delivery() -> None:
    core = new()
    assert drive(core, b"BDAT 10 last\r\n01234") == [sp.Content(b"01234")]
    assert core.state is sp.State.BDAT
    assert drive(core, b"56789RSET\r\n") == [sp.BdatChunk(b"56789", True, 10), sp.Rset()]


def test_bdat_over_size_limit_is_consumed_and_rejected() -> None:
    core = new(max_message_size=10)
    events = drive(core, b"BDAT 6\r\nabcdefBDAT 6 LAST\r\nghijklNOOP\r\n")
    assert events == [
        sp.BdatChunk(b"abcdef", False, 6),
        sp.ChunkRejected(replies.SIZE_EXCEEDED, 6, True),
        sp.Noop(),
    ]
    assert drive(core, b"BDAT 4 LAST\r\nmnop") == [sp.BdatChunk(b"mnop", True, 4)]


def test_huge_bdat_is_not_buffered() -> None:
    core = new(max_message_size=10)
    assert drive(core, b"BDAT 1000000\r\n" + b"x" * 500_000) == []
    assert len(core._buf) == 0


@pytest.mark.parametrize(
    "line", [b"BDAT\r\n", b"BDAT x\r\n", b"BDAT 1 FIRST\r\n", b"BDAT -1\r\n", b"BDAT 1 LAST x\r\n"]
)
def test_bad_bdat_syntax(line: bytes) -> None:
    (event,) = drive(new(), line)
    assert isinstance(event, sp.Invalid) and event.reply.code == 501


# -- STARTTLS (RFC 3207, CVE-2011-0411) ------------------------------------------------------------


def test_starttls_drops_pipelined_plaintext() -> None:
    core = new()
    core.receive_data(b"STARTTLS\r\nMAIL FROM:<injected@example>\r\n")
    assert core.next_event() == sp.StartTls()
    assert core.next_event() is sp.PAUSED
    assert core.start_tls() == len(b"MAIL FROM:<injected@example>\r\n")
    assert core.next_event() is sp.PAUSED
    core.reset_after_starttls()
    assert drive(core, b"EHLO x\r\n") == [sp.Ehlo("x")]


def test_refused_starttls_goes_on_with_commands() -> None:
    assert drive(new(), b"STARTTLS\r\nNOOP\r\n") == [sp.StartTls(), sp.Noop()]


# -- AUTH (RFC 4954) -------------------------------------------------------------------------------


def test_auth_exchange_delivers_raw_responses() -> None:
    core = new()
    assert drive(core, b"auth login\r\n") == [sp.Auth("LOGIN", None)]
    assert core.state is sp.State.AUTH_RESPONSE
    assert core.next_event() is sp.NEED_DATA
    core.receive_data(b"dGlt\r\n")
    assert core.next_event() == sp.AuthResponse(b"dGlt")
    core.expect_auth_response()
    core.receive_data(b"NOOP\r\n")  # a response, not a command
    assert core.next_event() == sp.AuthResponse(b"NOOP")


def test_auth_cancel() -> None:
    core = new()
    core.receive_data(b"AUTH PLAIN\r\n*\r\nNOOP\r\n")
    assert core.next_event() == sp.Auth("PLAIN", None)
    core.expect_auth_response()
    assert core.next_event() == sp.AuthCancelled(replies.AUTH_CANCELLED)
    assert core.next_event() == sp.Noop()


def test_auth_initial_response_and_bad_syntax() -> None:
    assert drive(new(), b"AUTH PLAIN =\r\n") == [sp.Auth("PLAIN", b"=")]
    (event,) = drive(new(), b"AUTH\r\n")
    assert isinstance(event, sp.Invalid) and event.reply.code == 501


def test_overlong_auth_response_aborts_the_exchange() -> None:
    core = new(auth_line_limit=100)
    core.receive_data(b"AUTH LOGIN\r\n" + b"A" * 200 + b"\r\nNOOP\r\n")
    core.next_event()
    core.expect_auth_response()
    event = core.next_event()
    assert isinstance(event, sp.AuthCancelled) and event.reply.code == 500
    assert core.next_event() == sp.Noop()


# -- SMTPUTF8 follows the transaction --------------------------------------------------------------


def test_rcpt_utf8_allowed_only_after_mail_smtputf8() -> None:
    rcpt = "RCPT TO:<用户@例子.广告>\r\n".encode()
    events = drive(new(), b"MAIL FROM:<a@b.example> SMTPUTF8\r\n" + rcpt + b"RSET\r\n" + rcpt)
    assert [type(e) for e in events] == [sp.Mail, sp.Rcpt, sp.Rset, sp.Invalid]
    assert events[3].reply == replies.NON_ASCII_ADDRESS  # type: ignore[attr-defined]


# -- end of stream, state errors -------------------------------------------------------------------


def test_eof_in_data_is_reported() -> None:
    core = in_data()
    core.receive_data(b"partial")
    core.receive_data(b"")
    assert core.next_event() == sp.ConnectionClosed(sp.State.DATA)
    assert core.next_event() is sp.CLOSED


def test_session_calls_in_wrong_state_raise_state_error() -> None:
    core = new()
    with pytest.raises(sp.StateError):
        core.start_data()
    with pytest.raises(sp.StateError):
        core.reset_after_starttls()


# -- byte-at-a-time equivalence (habit 5) ------------------------------------------------------------

TRANSCRIPT = (
    b"EHLO c.example\r\nMAIL FROM:<a@b.example> BODY=8BITMIME\r\nRCPT TO:<c@d.example>\r\nDATA\r\n"
    b"Subject: x\r\n\r\n..dot\r\n" + b"y" * 9000 + b"\r\n.\r\n"
    b"BDAT 7\r\n\r\n.\r\nxyBDAT 0 LAST\r\nAUTH LOGIN\r\ndGlt\r\nNOOP " + b"z" * 5000 + b"\r\n"
    b"DATA\r\nbare\nlf\r\n.\r\nSTARTTLS\r\nQUIT\r\n"
)


def test_whole_and_bytewise_feeding_agree() -> None:
    whole = fold(drive(new(), TRANSCRIPT))
    assert drive_bytewise(new(), TRANSCRIPT) == whole
    assert [type(e).__name__ for e in whole] == [
        "Ehlo", "Mail", "Rcpt", "Data", "MessageComplete", "BdatChunk", "BdatChunk", "Auth",
        "AuthResponse", "Invalid", "Data", "MessageRejected", "StartTls", "Quit",
    ]  # fmt: skip
