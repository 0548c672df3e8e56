"""Outbound abuse over the wire: hourly limits per account (451 4.7.1), per-account overrides, holds."""

from __future__ import annotations

import json
import smtplib
import urllib.request
from collections.abc import Iterator

import pytest

from tests.server_process import pillarbox
from tests.smtp.conftest import PASSWORD, MailServer, serving, start_server

LIMITS = "pregreet_delay = 0\nmax_messages_per_hour = 3\nmax_recipients_per_hour = 5\nhold_suspects = false\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailServer]:
    yield from serving(start_server(tmp_path_factory.mktemp("limits"), antispam=LIMITS))


def submit(server: MailServer, user: str) -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", server.submission)
    client.starttls(context=server.tls_context())
    client.login(user, PASSWORD)
    return client


def message(user: str) -> bytes:
    return f"From: {user}\r\nSubject: note\r\n\r\nHello.\r\n".encode()


def test_the_message_past_the_hourly_limit_gets_451(server: MailServer):
    user = "bob@example.com"
    with submit(server, user) as client:
        for _ in range(3):
            assert client.sendmail(user, ["carol@example.com"], message(user)) == {}
        client.ehlo()
        assert client.mail(user) == (451, b"4.7.1 Sending limit reached (3 messages per hour), please try again later")
    server.process.wait_for_log(r'suspicious sending" user=bob@example\.com reason="over 3 messages per hour"')
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{server.process.port('http')}/metrics", timeout=10).read()
    assert b'pillarbox_antispam_suspect_accounts_total{reason="messages"} 1' in metrics


def test_recipients_count_across_messages_and_an_own_limit_replaces_the_default(server: MailServer):
    user = "carol@example.com"
    with submit(server, user) as client:
        assert client.sendmail(user, ["bob@example.com", "dave@example.com", "x@remote.test"], message(user)) == {}
        client.ehlo()
        assert client.mail(user)[0] == 250
        assert client.rcpt("bob@example.com")[0] == 250  # the 4th and 5th recipient of the hour
        assert client.rcpt("dave@example.com")[0] == 250
        assert client.rcpt("y@remote.test") == (
            451, b"4.7.1 Sending limit reached (5 recipients per hour), please try again later")
        client.rset()
    pillarbox(server.data_dir.parent / "pillarbox.toml", "antispam", "limits", user, "--recipients", "0")
    with submit(server, user) as client:
        assert client.sendmail(user, [f"r{n}@remote.test" for n in range(6)], message(user)) == {}


def test_a_held_account_is_refused_until_released(server: MailServer):
    user, config = "dave@example.com", server.data_dir.parent / "pillarbox.toml"
    pillarbox(config, "antispam", "hold", user)
    with submit(server, user) as client:
        client.ehlo()
        code, text = client.mail(user)
        assert (code, text.split(b";")[0]) == (550, b"5.7.1 Sending from this account is held for review")
    pillarbox(config, "antispam", "release", user)
    with submit(server, user) as client:
        assert client.sendmail(user, ["bob@example.com"], message(user)) == {}


def test_whom_a_user_writes_to_is_allowed_back(server: MailServer):
    user = "full@example.com"
    with submit(server, user) as client:
        assert client.sendmail(user, ["Friend@Remote.test"], message(user)) == {}
    listing = pillarbox(server.data_dir.parent / "pillarbox.toml", "antispam", "list", user, "--json")
    assert json.loads(listing.stdout) == [
        {"user": user, "pattern": "friend@remote.test", "action": "allow", "source": "sent"}]
