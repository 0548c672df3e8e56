"""rspamd as the content filter, for real: GTUBE rejected, an ordinary message delivered, a message rspamd
wants marked filed into Junk, rspamd down (fail open with a log line, or 451 when so configured),
and the learning job teaching rspamd's controller what a user moved into Junk."""

from __future__ import annotations

import re
import smtplib
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import pytest

from tests.antispam.rspamd_process import PASSWORD, Rspamd
from tests.imap_wire.conftest import IMAPServer, start_imap_server

# rspamd scores a Date: over a day old (DATE_IN_PAST) or 2 hours ahead (DATE_IN_FUTURE) against the
# message, and any score files into Junk here: the messages are dated now, whenever the tests run
NOW = formatdate(usegmt=True).encode()
GTUBE = (b"From: spammer@remote.test\r\nTo: bob@example.com\r\nSubject: test\r\n"
         b"Date: " + NOW + b"\r\n\r\n"
         b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n")
ORDINARY = (b"From: Alice <alice@remote.test>\r\nTo: bob@example.com\r\nSubject: lunch\r\n"
            b"Date: " + NOW + b"\r\nMessage-ID: <lunch@remote.test>\r\n\r\nLunch at noon?\r\n")
UNDATED = b"From: Alice <alice@remote.test>\r\nTo: bob@example.com\r\nSubject: no date\r\n\r\nHello.\r\n"


def settings(rspamd: Rspamd, failure: str = "accept") -> str:
    return (f'pregreet_delay = 0\nlearn_interval = 0.1\nrspamd = "{rspamd.url}"\n'
            f'rspamd_controller = "{rspamd.controller_url}"\nrspamd_password = "{PASSWORD}"\n'
            f'rspamd_timeout = 5\nrspamd_failure = "{failure}"\n')


@pytest.fixture(scope="module")
def rspamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rspamd]:
    running = Rspamd(tmp_path_factory.mktemp("rspamd"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, rspamd: Rspamd) -> Iterator[IMAPServer]:
    running = start_imap_server(tmp_path_factory.mktemp("with-rspamd"), antispam=settings(rspamd))
    yield running
    assert running.process.stop() == 0
    assert "Traceback" not in running.process.log()


def send(server: IMAPServer, message: bytes, sender: str = "alice@remote.test") -> None:
    with smtplib.SMTP("127.0.0.1", server.smtp) as client:
        assert client.sendmail(sender, ["bob@example.com"], message) == {}


def last_in_inbox(server: IMAPServer) -> bytes:
    stored = server.messages("bob@example.com")
    assert stored, [line for line in server.process.log().splitlines() if 'msg="transaction"' in line][-3:]
    return stored[-1]


def test_gtube_is_rejected(server: IMAPServer):
    with smtplib.SMTP("127.0.0.1", server.smtp) as client, pytest.raises(smtplib.SMTPDataError) as refused:
        client.sendmail("spammer@remote.test", ["bob@example.com"], GTUBE)
    assert (refused.value.smtp_code, refused.value.smtp_error) == (550, b"5.7.1 Message rejected as spam")
    server.process.wait_for_log(r"transaction.* result=\"550 5\.7\.1\" spam=reject spam_score=15\.00"
                                r" spam_source=rspamd spam_reasons=GTUBE")


def test_an_ordinary_message_is_delivered_with_rspamds_verdict(server: IMAPServer):
    send(server, ORDINARY)
    stored = last_in_inbox(server)
    assert stored.endswith(ORDINARY)
    assert re.search(rb"X-Spam-Flag: NO\r\nX-Spam-Status: No, score=0\.00 required=[0-9.]+ source=rspamd host=mx\.test"
                     rb"\r\nX-Spam-Score: 0\.00\r\n", stored)


def test_what_rspamd_would_mark_goes_to_junk(server: IMAPServer):
    send(server, UNDATED)
    filed = server.messages("bob@example.com", "Junk")[-1]
    assert b"X-Spam-Flag: YES" in filed and b"tests=MISSING_DATE" in filed


def test_a_message_moved_into_junk_is_learned_by_rspamds_controller(server: IMAPServer, rspamd: Rspamd):
    send(server, ORDINARY.replace(b"lunch", b"dinner"))
    client = server.login()
    client.select("INBOX")
    _, found = client.uid("SEARCH", 'SUBJECT "dinner"')
    assert client.uid("MOVE", found[0].decode(), "Junk")[0] == "OK"
    client.logout()
    server.process.wait_for_log(r'rspamd learned" message_id=\d+ kind=spam')
    assert "learned message as spam" in rspamd.log()


def test_rspamd_down_fails_open_with_a_log_line_or_451_when_so_configured(tmp_path: Path):
    own = Rspamd(tmp_path / "rspamd")
    (tmp_path / "open").mkdir()
    (tmp_path / "closed").mkdir()
    opened = start_imap_server(tmp_path / "open", antispam=settings(own))
    closed = start_imap_server(tmp_path / "closed", antispam=settings(own, failure="tempfail"))
    try:
        send(opened, ORDINARY)
        own.stop()
        send(opened, ORDINARY.replace(b"lunch", b"tea"))
        assert last_in_inbox(opened).endswith(ORDINARY.replace(b"lunch", b"tea"))
        opened.process.wait_for_log(r'rspamd scan failed" .*then="delivered unscanned"')
        with smtplib.SMTP("127.0.0.1", closed.smtp) as client, pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail("alice@remote.test", ["bob@example.com"], ORDINARY)
        assert refused.value.smtp_code == 451 and refused.value.smtp_error.startswith(b"4.3.0 ")
    finally:
        own.stop()
        for server in (opened, closed):
            assert server.process.stop() == 0


@pytest.mark.parametrize("sender", ["jörg@remote.test", "alice@bücher.test"])
def test_an_internationalized_envelope_is_scanned_and_delivered(server: IMAPServer, sender: str):
    """RFC 6531: the envelope's addresses may be UTF-8. It was a 451 (the HTTP client refused to send
    them), then Junk (rspamd 3.4 flags a UTF-8 envelope address as broken headers)."""
    message = ORDINARY.replace(b"lunch", sender.encode())
    with smtplib.SMTP("127.0.0.1", server.smtp) as client:
        assert client.sendmail(sender, ["bob@example.com"], message, mail_options=["SMTPUTF8"]) == {}
    stored = last_in_inbox(server)
    assert stored.endswith(message) and b"X-Spam-Flag: NO" in stored and b"source=rspamd" in stored
