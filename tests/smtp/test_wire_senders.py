"""Submission: the From: and Sender: fields must name addresses the logged-in user may use.

bob@example.com may use his own address (any +tag), team@ (an alias that reaches him) and what an
administrator grants him; example.org is configured to let its users write any From:.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterator

import pytest

from pillarbox.smtp import replies
from tests.server_process import pillarbox
from tests.smtp.conftest import PASSWORD, MailServer, serving, start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailServer]:
    running = start_server(tmp_path_factory.mktemp("senders"),
                           extra='[senders]\nfrom_header_by_domain = { "example.org" = "any" }\n')
    pillarbox(running.process.config, "user", "add", "ann@example.org", "--password-stdin",
              input=f"{PASSWORD}\n".encode())
    yield from serving(running)


def expected(reply: replies.Reply) -> tuple[int, bytes]:
    return reply.code, f"{reply.enhanced} {reply.text}".encode()


def send(server: MailServer, header: str, user: str = "bob@example.com", mail_from: str | None = None,
         bdat: bool = False) -> tuple[int, bytes]:
    """Submit one message with this header block to x@remote.test; the reply to its end of data."""
    message = f"{header}To: x@remote.test\r\nSubject: who wrote this\r\n\r\nHello.\r\n".encode()
    with smtplib.SMTP("127.0.0.1", server.submission, timeout=10) as client:
        client.starttls(context=server.tls_context())
        client.login(user, PASSWORD)
        assert client.mail(mail_from or user)[0] == 250
        assert client.rcpt("x@remote.test")[0] == 250
        if not bdat:
            return client.data(message)
        client.send(f"BDAT {len(message)} LAST\r\n".encode() + message)
        return client.getreply()


NOT_OWNED = expected(replies.AUTHOR_NOT_OWNED)
INVALID = expected(replies.AUTHOR_FIELDS_INVALID)


def test_someone_elses_from_is_refused_and_not_queued(server: MailServer):
    queued = len(server.queued())
    assert send(server, "From: Carol <carol@example.com>\r\n") == NOT_OWNED
    assert send(server, "From: carol@example.com\r\n", bdat=True) == NOT_OWNED
    assert send(server, "From: ceo@bank.example\r\n") == NOT_OWNED  # a foreign address is not bob's either
    assert len(server.queued()) == queued
    assert "carol@example.com" not in [m.split(b"\r\n\r\n")[0] for m in server.messages("bob@example.com")]


@pytest.mark.parametrize("header", [
    "From: bob@example.com\r\n",
    'From: "Carol (really)" <Bob@Example.COM>\r\n',  # the display name is not an address
    "From: bob+lists@example.com\r\n",
    "From: team@example.com\r\nSender: bob@example.com\r\n",  # an alias that reaches bob
    "From: bob@example.com, team@example.com\r\nSender: bob@example.com\r\n",
])
def test_addresses_bob_may_use(server: MailServer, header: str):
    assert send(server, header)[0] == 250


@pytest.mark.parametrize("header, reply", [
    ("From: bob@example.com, carol@example.com\r\nSender: bob@example.com\r\n", NOT_OWNED),  # every author
    ("From: bob@example.com\r\nSender: carol@example.com\r\n", NOT_OWNED),
    ("From: bob@example.com\r\nFrom: carol@example.com\r\n", INVALID),  # two From: fields
    ("From: carol@example.com\r\nFrom: bob@example.com\r\n", INVALID),
    ("", INVALID),  # no From: at all
    ("From: undisclosed:;\r\n", INVALID),
    ("From: bob@example.com\r\nSender: bob@example.com\r\nSender: bob@example.com\r\n", INVALID),
    ("From: bob@example.com\r\nSender: bob@example.com, team@example.com\r\n", INVALID),
    ("From: carol@example.com\r\n (folded)\r\n", NOT_OWNED),
])
def test_refused_author_fields(server: MailServer, header: str, reply: tuple[int, bytes]):
    assert send(server, header) == reply


def test_a_grant_lets_bob_send_as_carol_until_revoked(server: MailServer):
    config = server.process.config
    out = pillarbox(config, "user", "grant", "bob@example.com", "Carol@Example.com").stdout.decode()
    assert out == "bob@example.com may now send as carol@example.com\n"
    pillarbox(config, "user", "grant", "bob@example.com", "@partner.example")
    assert send(server, "From: carol@example.com\r\nSender: bob@example.com\r\n")[0] == 250
    assert send(server, "From: carol@example.com\r\n", mail_from="carol@example.com")[0] == 250  # MAIL FROM too
    assert send(server, "From: anyone@partner.example\r\n")[0] == 250
    assert send(server, "From: carol@example.com\r\n", user="dave@example.com") == NOT_OWNED  # bob's grant only
    listed = pillarbox(config, "user", "grants", "--json").stdout.decode()
    assert '"address": "carol@example.com"' in listed and '"address": "@partner.example"' in listed
    pillarbox(config, "user", "revoke", "bob@example.com", "carol@example.com")
    assert send(server, "From: carol@example.com\r\n") == NOT_OWNED
    assert send(server, "From: anyone@partner.example\r\n")[0] == 250


def test_grant_refusals_are_one_line(server: MailServer):
    config = server.process.config
    for args, text in ((("nobody@example.com", "x@example.com"), "no user nobody@example.com"),
                       (("bob@example.com", "not an address"), "not a mail address"),
                       (("bob@example.com", "@bad..domain"), "invalid domain")):
        refused = pillarbox(config, "user", "grant", *args, check=False)
        assert refused.returncode == 1 and text in refused.stderr.decode()
        assert len(refused.stderr.decode().splitlines()) == 1
    pillarbox(config, "user", "grant", "dave@example.com", "x@partner.example")
    again = pillarbox(config, "user", "grant", "dave@example.com", "x@partner.example", check=False)
    assert again.returncode == 1 and "already" in again.stderr.decode()
    missing = pillarbox(config, "user", "revoke", "dave@example.com", "y@partner.example", check=False)
    assert missing.returncode == 1 and "has no grant for y@partner.example" in missing.stderr.decode()


def test_a_domain_configured_any_may_write_any_from(server: MailServer):
    assert send(server, "From: someone@elsewhere.example\r\n", user="ann@example.org")[0] == 250
    with smtplib.SMTP("127.0.0.1", server.submission, timeout=10) as client:  # MAIL FROM stays checked
        client.starttls(context=server.tls_context())
        client.login("ann@example.org", PASSWORD)
        assert client.mail("someone@elsewhere.example") == expected(replies.SENDER_NOT_OWNED)


def test_where_any_from_goes_a_message_without_from_is_queued_unsigned(server: MailServer):
    # the From: rule refuses it elsewhere; here DKIM cannot sign it (RFC 6376 5.4), so it leaves unsigned
    with smtplib.SMTP("127.0.0.1", server.submission, timeout=10) as client:
        client.starttls(context=server.tls_context())
        client.login("ann@example.org", PASSWORD)
        assert client.sendmail("ann@example.org", ["y@remote.test"], b"Subject: no from\r\n\r\nbody\r\n") == {}
    relayed = server.last_queued_bytes()
    assert relayed.endswith(b"Subject: no from\r\n\r\nbody\r\n") and b"DKIM-Signature" not in relayed
