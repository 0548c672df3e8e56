"""DELIVERBY (RFC 2852) received: advertised, ``BY=<by-time>;<R|N>[T]`` checked (R needs time left),
the deadline kept with the queue entry; and on the way out: the time left passed to a peer that takes
it, an R message never relayed to one that does not (5.4.7), an N message relayed all the same."""

from __future__ import annotations

import smtplib
import time

import pytest

from pillarbox.errors import ProtocolError
from pillarbox.outbound.deliver import OutboundMessage, Outcome, Target
from pillarbox.smtp.deliver_by import Deadline
from pillarbox.smtp.grammar import parse_mail
from tests.outbound.relay_sink import relay_to_sink
from tests.smtp.conftest import MailServer
from tests.stores import run_at

MESSAGE = b"From: someone@remote.test\r\nTo: fwd@example.com\r\nSubject: soon\r\n\r\nSoon.\r\n"


def test_by_syntax() -> None:
    for good in ("BY=600;R", "BY=-30;N", "BY=+5;nt", "BY=999999999;RT"):
        parse_mail(f"FROM:<a@b.test> {good}")
    for bad in ("BY=600", "BY=600;X", "BY=;R", "BY=1234567890;N", "BY=600;RTT", "BY"):
        with pytest.raises(ProtocolError):
            parse_mail(f"FROM:<a@b.test> {bad}")


def _deadline(server: MailServer, reply: bytes) -> tuple[int, str]:
    queue_id = reply.decode().rsplit(" ", 1)[-1]
    entry = run_at(server.data_dir, lambda store: store.get_queue_entry(queue_id))
    return entry.deliver_by, entry.by_mode


def test_deliverby_is_advertised_checked_and_kept(server: MailServer) -> None:
    with smtplib.SMTP("127.0.0.1", server.smtp, timeout=10) as client:
        client.ehlo("client.test")
        assert client.has_extn("deliverby")
        code, text = client.mail("someone@remote.test", ["BY=0;R"])
        assert (code, text[:5]) == (501, b"5.5.4")  # RFC 2852 4: R needs a by-time above 0
        assert client.mail("someone@remote.test", ["BY=600;rt"])[0] == 250
        assert client.rcpt("fwd@example.com")[0] == 250  # an alias to a remote address: queued
        before = int(time.time())
        at, mode = _deadline(server, client.data(MESSAGE)[1])
        assert before + 600 <= at <= int(time.time()) + 600 and mode == "RT"
        assert client.mail("someone@remote.test", ["BY=-30;N"])[0] == 250  # N: already late is allowed
        assert client.rcpt("fwd@example.com")[0] == 250
        assert _deadline(server, client.data(MESSAGE)[1])[1] == "N"


def _send(extensions: list[str], deadline: Deadline) -> tuple[list[Outcome], list[list[str]]]:
    message = OutboundMessage("q1", "alice@a.test", b"Subject: x\r\n\r\nx\r\n", deadline=deadline)
    outcomes, sink = relay_to_sink(extensions, message, [Target(0, "u@b.test")])
    return outcomes, [m.mail_params for m in sink.messages]


def test_the_time_left_is_passed_on_and_r_is_never_relayed_without_deliverby() -> None:
    soon = int(time.time()) + 300
    outcomes, params = _send(["DELIVERBY"], Deadline(soon, "R"))
    assert outcomes[0].kind == "relayed" and len(params) == 1
    [by] = params[0]
    left = int(by.removeprefix("BY=").removesuffix(";R"))
    assert 295 <= left <= 300
    outcomes, params = _send([], Deadline(soon, "R"))
    assert (outcomes[0].kind, outcomes[0].status, params) == ("permanent", "5.4.7", [])
    outcomes, params = _send([], Deadline(soon, "NT"))
    assert outcomes[0].kind == "relayed" and params == [[]]
    outcomes, params = _send(["DELIVERBY"], Deadline(int(time.time()) - 60, "N"))
    assert params[0][0].startswith("BY=-6") and params[0][0].endswith(";N")
