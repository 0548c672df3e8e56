"""URLAUTH (RFC 4467) and BURL (RFC 4468): a message composed in the Sent folder over IMAP leaves by
submission by reference, its bytes never uploaded a second time; the authorization is checked on
both sides (whose URL, which access, the token, expiry, RESETKEY)."""

from __future__ import annotations

import re
import smtplib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.imap_wire.conftest import IMAPServer
from tests.imap_wire.raw import RawIMAP
from tests.server_process import ServerProcess, write_config
from tests.smtp.conftest import NO_POLICY, PASSWORD, populate

SENT = (b"From: bob@example.com\r\nTo: x@remote.test, carol@example.com\r\nSubject: by reference\r\n\r\n"
        b"Composed once, sent by URL.\r\n")


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IMAPServer]:
    tmp: Path = tmp_path_factory.mktemp("burl")
    config = write_config(tmp, services=("smtp", "submission", "imap", "imaps", "http"), extra=NO_POLICY)
    populate(tmp / "data")
    running = IMAPServer(ServerProcess(config), tmp / "data")
    yield running
    assert running.process.stop() == 0
    assert "Traceback" not in running.process.log()


def _authorized(imap: RawIMAP, rump: str) -> str:
    lines = imap.command(f'g1 GENURLAUTH "{rump}" INTERNAL')
    assert lines[-1] == b"g1 OK GENURLAUTH completed", lines
    found = re.fullmatch(rb'\* GENURLAUTH "?([^"]+)"?', lines[0])
    assert found is not None, lines
    return found.group(1).decode()


def test_a_sent_message_leaves_by_reference(both: IMAPServer):
    imap = RawIMAP(both.imaps, both.tls_context())
    try:
        appended = imap.command(b"a1 APPEND Sent (\\Seen) {%d+}\r\n" % len(SENT) + SENT)[-1].decode()
        uidvalidity, uid = re.search(r"APPENDUID (\d+) (\d+)", appended).groups()  # type: ignore[union-attr]
        base = f"imap://bob%40example.com@mx.test/Sent;UIDVALIDITY={uidvalidity}/;UID={uid}"
        submit_url = _authorized(imap, f"{base};URLAUTH=submit+bob%40example.com")
        assert re.fullmatch(re.escape(base) + r";URLAUTH=submit\+bob%40example\.com:INTERNAL:[0-9a-f]{32}",
                            submit_url)
        # URLFETCH over IMAP: a submit+ URL is for the submission server only; a user+ one for its user
        assert imap.command(f'f1 URLFETCH "{submit_url}"')[0] == f'* URLFETCH "{submit_url}" NIL'.encode()
        user_url = _authorized(imap, f"{base}/;SECTION=TEXT;URLAUTH=user+bob%40example.com")
        assert imap.command(f'f2 URLFETCH "{user_url}"')[0].endswith(b"{29}\r\nComposed once, sent by URL.\r\n")
        # someone else's message, another mechanism, no such message: refused
        assert imap.command(f'g2 GENURLAUTH "{base.replace("bob", "carol")};URLAUTH=authuser" INTERNAL')[-1] \
            .startswith(b"g2 NO [BADURL ")
        assert imap.command(f'g3 GENURLAUTH "{base};URLAUTH=authuser" OTHER')[-1].startswith(b"g3 NO [BADURL ")
    finally:
        imap.close()
    with smtplib.SMTP("127.0.0.1", both.submission, timeout=10) as client:
        client.starttls(context=both.tls_context())
        client.login("bob@example.com", PASSWORD)
        assert client.esmtp_features["burl"] == "imap"
        assert client.mail("bob@example.com")[0] == 250
        assert client.rcpt("x@remote.test")[0] == 250 and client.rcpt("carol@example.com")[0] == 250
        code, text = client.docmd("BURL", f"{submit_url} LAST")  # no bytes of the message cross again
        assert code == 250, text
    assert both.last_queued_bytes().endswith(SENT)
    assert any(m.endswith(SENT) for m in both.messages("carol@example.com"))


def test_burl_refuses_a_url_that_is_not_the_users(both: IMAPServer):
    imap = RawIMAP(both.imaps, both.tls_context(), "carol@example.com")
    try:
        appended = imap.command(b"a1 APPEND Sent {%d+}\r\n" % len(SENT) + SENT)[-1].decode()
        uidvalidity, uid = re.search(r"APPENDUID (\d+) (\d+)", appended).groups()  # type: ignore[union-attr]
        base = f"imap://carol%40example.com@mx.test/Sent;UIDVALIDITY={uidvalidity}/;UID={uid}"
        carols = _authorized(imap, f"{base};URLAUTH=submit+carol%40example.com")
        expired = _authorized(imap, f"{base};EXPIRE=2001-01-01T00:00:00Z;URLAUTH=submit+bob%40example.com")
        for_bob = _authorized(imap, f"{base};URLAUTH=submit+bob%40example.com")
        assert imap.command("r1 RESETKEY Sent")[-1] == b"r1 OK RESETKEY completed"
    finally:
        imap.close()
    with smtplib.SMTP("127.0.0.1", both.submission, timeout=10) as client:
        client.starttls(context=both.tls_context())
        client.login("bob@example.com", PASSWORD)
        for url in (carols, expired, for_bob, for_bob.replace("UID=", "UID=9")):  # for_bob: the key was reset
            assert client.mail("bob@example.com")[0] == 250 and client.rcpt("x@remote.test")[0] == 250
            code, text = client.docmd("BURL", f"{url} LAST")
            assert (code, text[:5]) == (554, b"5.6.6"), (url, text)
        assert client.docmd("BURL", "imap://x LAST")[0] == 503  # no transaction
