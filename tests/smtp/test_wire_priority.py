"""MT-PRIORITY (RFC 6710) received: advertised, -9..9, kept from authenticated senders, positive values
lowered to normal from strangers, stored with the queue entry (which the queue leases first)."""

from __future__ import annotations

import smtplib

import pytest

from pillarbox.errors import ProtocolError
from pillarbox.smtp.grammar import parse_mail
from tests.smtp.conftest import PASSWORD, MailServer
from tests.stores import run_at

MESSAGE = b"From: bob@example.com\r\nTo: x@remote.test\r\nSubject: urgent\r\n\r\nNow.\r\n"


def test_mt_priority_values() -> None:
    assert parse_mail("FROM:<a@b.test> MT-PRIORITY=3").priority == 3
    assert parse_mail("FROM:<a@b.test> MT-PRIORITY=-9").priority == -9
    assert parse_mail("FROM:<a@b.test> MT-PRIORITY=+9").priority == 9
    assert parse_mail("FROM:<a@b.test>").priority == 0
    for bad in ("MT-PRIORITY=10", "MT-PRIORITY", "MT-PRIORITY=x"):
        with pytest.raises(ProtocolError):
            parse_mail(f"FROM:<a@b.test> {bad}")


def _priority(server: MailServer, reply: bytes) -> int:
    queue_id = reply.decode().rsplit(" ", 1)[-1]
    return run_at(server.data_dir, lambda store: store.get_queue_entry(queue_id)).priority


def test_priority_is_kept_from_users_and_capped_from_strangers(server: MailServer):
    with smtplib.SMTP("127.0.0.1", server.submission, timeout=10) as client:
        client.starttls(context=server.tls_context())
        client.login("bob@example.com", PASSWORD)
        assert client.has_extn("mt-priority")
        assert client.mail("bob@example.com", ["MT-PRIORITY=4"])[0] == 250
        assert client.rcpt("x@remote.test")[0] == 250
        assert _priority(server, client.data(MESSAGE)[1]) == 4
    with smtplib.SMTP("127.0.0.1", server.smtp, timeout=10) as client:
        client.ehlo("client.test")
        assert client.mail("someone@remote.test", ["MT-PRIORITY=9"])[0] == 250
        assert client.rcpt("fwd@example.com")[0] == 250  # an alias to a remote address: queued
        assert _priority(server, client.data(MESSAGE)[1]) == 0
        assert client.mail("someone@remote.test", ["MT-PRIORITY=-3"])[0] == 250
        assert client.rcpt("fwd@example.com")[0] == 250
        assert _priority(server, client.data(MESSAGE)[1]) == -3
