"""REQUIRETLS received (RFC 8689 2, 4.1): advertised only after STARTTLS, refused without TLS, and the
message tagged in the queue so that delivery honours it (tests/e2e/test_outbound_tls_policy.py)."""

from __future__ import annotations

import smtplib

from tests.smtp.conftest import PASSWORD, MailServer
from tests.stores import run_at

MESSAGE = b"From: bob@example.com\r\nTo: x@remote.test\r\nSubject: secret\r\n\r\nOnly over TLS.\r\n"


def _queued_requiretls(server: MailServer, queue_id: str) -> int:
    return int(run_at(server.data_dir, lambda store: store.get_queue_entry(queue_id)).requiretls)


def test_requiretls_is_offered_and_taken_only_over_tls(server: MailServer):
    with smtplib.SMTP("127.0.0.1", server.smtp, timeout=10) as client:
        client.ehlo("client.test")
        assert not client.has_extn("requiretls")
        code, text = client.mail("someone@remote.test", ["REQUIRETLS"])
        assert (code, text) == (530, b"5.7.10 REQUIRETLS needs a TLS session")
        client.starttls(context=server.tls_context())
        client.ehlo("client.test")
        assert client.has_extn("requiretls")
    with smtplib.SMTP("127.0.0.1", server.submission, timeout=10) as client:
        client.starttls(context=server.tls_context())
        client.login("bob@example.com", PASSWORD)
        assert client.mail("bob@example.com", ["REQUIRETLS"])[0] == 250
        assert client.rcpt("x@remote.test")[0] == 250
        code, text = client.data(MESSAGE)
        assert code == 250
        tagged = text.decode().rsplit(" ", 1)[-1]
        assert client.mail("bob@example.com")[0] == 250 and client.rcpt("x@remote.test")[0] == 250
        untagged = client.data(MESSAGE)[1].decode().rsplit(" ", 1)[-1]
    assert (_queued_requiretls(server, tagged), _queued_requiretls(server, untagged)) == (1, 0)
