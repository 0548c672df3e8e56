"""RFC 5321 4.5.1: RCPT TO:<Postmaster> (no domain) MUST be accepted; postmaster@ and abuse@ of a
domain reach whoever ``alias list`` names, and nobody by a hidden rule."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator

import pytest

from pillarbox.smtp import replies
from tests.server_process import pillarbox
from tests.smtp.conftest import MailServer, serving, start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailServer]:
    yield from serving(start_server(tmp_path_factory.mktemp("postmaster")))


def deliver(server: MailServer, recipient: str, subject: str) -> tuple[int, bytes]:
    """MAIL/RCPT/DATA on the MX port; the reply to RCPT (and the message is sent when it was 250)."""
    with smtplib.SMTP("127.0.0.1", server.smtp, timeout=10) as client:
        client.ehlo("mail.remote.test")
        client.mail("someone@remote.test")
        reply = client.rcpt(recipient)
        if reply[0] == 250:
            assert client.data(f"From: someone@remote.test\r\nSubject: {subject}\r\n\r\nHi.\r\n".encode())[0] == 250
    return reply


def subjects(server: MailServer, address: str) -> list[bytes]:
    return [line for m in server.messages(address) for line in m.split(b"\r\n") if line.startswith(b"Subject:")]


def test_bare_postmaster_in_any_case_reaches_the_postmaster(server: MailServer):
    # mx.test is no served domain: <Postmaster> is postmaster@ the oldest domain, example.com
    assert deliver(server, "<Postmaster>", "nobody yet") == (
        replies.NO_SUCH_USER.code, f"{replies.NO_SUCH_USER.enhanced} {replies.NO_SUCH_USER.text}".encode())
    pillarbox(server.process.config, "domain", "postmaster", "example.com", "carol@example.com")
    for spelling in ("<Postmaster>", "<postmaster>", "<POSTMASTER>"):
        assert deliver(server, spelling, f"to {spelling}")[0] == 250
    assert subjects(server, "carol@example.com") == [
        b"Subject: to <Postmaster>", b"Subject: to <postmaster>", b"Subject: to <POSTMASTER>"]
    assert deliver(server, "<abuse@example.com>", "abuse")[0] == 250  # RFC 2142
    assert subjects(server, "carol@example.com")[-1] == b"Subject: abuse"


def test_no_hidden_fallback_for_a_domain_without_postmaster_alias(server: MailServer):
    # before, postmaster@example.org went to its first user, shown nowhere; now an alias must say who
    assert deliver(server, "<postmaster@example.org>", "hidden")[0] == replies.NO_SUCH_USER.code
    pillarbox(server.process.config, "domain", "postmaster", "example.org", "dave@example.com")
    assert deliver(server, "<postmaster@example.org>", "named")[0] == 250
    assert subjects(server, "dave@example.com") == [b"Subject: named"]
