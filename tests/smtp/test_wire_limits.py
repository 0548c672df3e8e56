"""RFC 9422 LIMITS advertised: RCPTMAX is the recipients limit that 452 4.5.3 enforces."""

from __future__ import annotations

import smtplib

from tests.smtp.conftest import MailServer


def test_ehlo_advertises_rcptmax_and_keeps_it(server: MailServer):
    with smtplib.SMTP("127.0.0.1", server.smtp, timeout=10) as client:
        client.ehlo("client.test")
        assert client.esmtp_features["limits"] == "RCPTMAX=5"  # the fixture's max_recipients
        assert client.mail("someone@remote.test")[0] == 250
        for n in range(5):
            assert client.rcpt("bob@example.com")[0] == 250, n
        assert client.rcpt("bob@example.com")[:2] == (452, b"4.5.3 Too many recipients")
