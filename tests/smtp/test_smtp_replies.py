"""Reply formatting: RFC 5321 4.2 multi-line replies, RFC 2034 enhanced codes on every line."""

from __future__ import annotations

import pytest

from pillarbox.smtp import replies
from pillarbox.smtp.replies import Reply


def test_single_line_with_enhanced_code() -> None:
    assert replies.OK.to_bytes() == b"250 2.0.0 OK\r\n"


def test_multi_line_repeats_enhanced_code_on_every_line() -> None:
    reply = Reply(550, "5.1.1", "No such user\nreally none")
    assert reply.to_bytes() == b"550-5.1.1 No such user\r\n550 5.1.1 really none\r\n"


def test_ehlo_reply_has_no_enhanced_code() -> None:
    reply = replies.ehlo_reply("mx.example.org greets you", ["PIPELINING", "SIZE 1000", "8BITMIME"])
    assert reply.to_bytes() == (b"250-mx.example.org greets you\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n")


def test_greeting_template() -> None:
    assert replies.SERVICE_READY.format(host="mx.example").to_bytes() == b"220 mx.example ESMTP Pillarbox ready\r\n"


def test_3xx_replies_carry_no_enhanced_code() -> None:
    assert replies.START_MAIL_INPUT.to_bytes().startswith(b"354 Start")
    assert replies.auth_challenge("").to_bytes() == b"334 \r\n"
    assert replies.auth_challenge("VXNlcm5hbWU6").to_bytes() == b"334 VXNlcm5hbWU6\r\n"


def test_with_text_keeps_codes() -> None:
    reply = replies.NO_SUCH_USER.with_text("<bob@example.org>: no such user")
    assert (reply.code, reply.enhanced) == (550, "5.1.1")
    assert reply.to_bytes() == b"550 5.1.1 <bob@example.org>: no such user\r\n"


def test_empty_text_with_enhanced_code() -> None:
    assert Reply(250, "2.0.0", "").to_bytes() == b"250 2.0.0\r\n"


@pytest.mark.parametrize(("code", "enhanced"), [(250, "5.0.0"), (550, "4.0.0"), (250, "2.0"), (999, None)])
def test_disagreeing_codes_are_refused(code: int, enhanced: str | None) -> None:
    with pytest.raises(ValueError):
        Reply(code, enhanced, "x")


def test_cr_in_text_refused() -> None:
    with pytest.raises(ValueError):
        Reply(250, "2.0.0", "a\r\n250 injected")


def test_every_constant_is_well_formed() -> None:
    constants = [v for v in vars(replies).values() if isinstance(v, Reply)]
    assert len(constants) > 40
    for reply in constants:
        wire = reply.to_bytes()
        assert wire.endswith(b"\r\n") and wire[:3] == str(reply.code).encode()
        needs_enhanced = reply.code >= 400 or (reply.code < 300 and reply.code != 220)
        if needs_enhanced and reply is not replies.HELO_OK:
            assert reply.enhanced is not None, reply


@pytest.mark.parametrize(
    ("reply", "code", "enhanced"),
    [
        (replies.SYNTAX_ERROR, 500, "5.5.2"),
        (replies.PARAM_SYNTAX, 501, "5.5.4"),
        (replies.NOT_IMPLEMENTED, 502, "5.5.1"),
        (replies.BAD_SEQUENCE, 503, "5.5.1"),
        (replies.PARAM_NOT_RECOGNIZED, 555, "5.5.4"),
        (replies.AUTH_REQUIRED, 530, "5.7.0"),
        (replies.AUTH_SUCCEEDED, 235, "2.7.0"),
        (replies.AUTH_FAILED, 535, "5.7.8"),
        (replies.ENCRYPTION_REQUIRED, 538, "5.7.11"),
        (replies.SIZE_EXCEEDED, 552, "5.3.4"),
        (replies.TOO_MANY_RECIPIENTS, 452, "4.5.3"),
        (replies.LINE_TOO_LONG, 500, "5.5.6"),
        (replies.VRFY_DISABLED, 252, "2.5.0"),
        (replies.TLS_READY, 220, "2.0.0"),
        (replies.TLS_NOT_AVAILABLE, 454, "4.7.0"),
        (replies.AUTH_CANCELLED, 501, "5.0.0"),
        (replies.RECIPIENT_OK, 250, "2.1.5"),
    ],
)
def test_codes_from_the_rfcs(reply: Reply, code: int, enhanced: str) -> None:
    assert (reply.code, reply.enhanced) == (code, enhanced)
