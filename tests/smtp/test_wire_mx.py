"""The MX role over the wire (smtplib and raw sockets): accepts local mail, relays nothing."""

from __future__ import annotations

import smtplib
import socket

import pytest

from tests.smtp.conftest import MailServer

MESSAGE = b"From: Alice <alice@remote.test>\r\nTo: bob@example.com\r\nSubject: hello\r\n\r\nHi Bob.\r\n"


def raw_session(port: int, script: bytes, read_until: bytes = b"221", timeout: float = 10) -> bytes:
    """Send ``script`` (already CRLF-framed) in one packet and read replies until ``read_until``."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        received = sock.recv(4096)
        sock.sendall(script)
        while read_until not in received:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


def test_delivers_with_trace_headers(server: MailServer):
    with smtplib.SMTP("127.0.0.1", server.smtp) as client:
        assert client.ehlo("peer.remote.test")[0] == 250
        assert client.sendmail("alice@remote.test", ["Bob@EXAMPLE.com"], MESSAGE) == {}
    stored = server.messages("bob@example.com")[-1]
    assert stored.startswith(b"Return-Path: <alice@remote.test>\r\nReceived: from peer.remote.test ([127.0.0.1])\r\n")
    assert b"by mx.test (Pillarbox) with ESMTP id " in stored
    assert b"\tfor <Bob@EXAMPLE.com>; " in stored
    assert stored.endswith(MESSAGE)


def test_ehlo_advertises_extensions_but_no_auth_on_mx(server: MailServer):
    with smtplib.SMTP("127.0.0.1", server.smtp) as client:
        client.ehlo()
        for keyword in ("pipelining", "size", "8bitmime", "smtputf8", "enhancedstatuscodes", "chunking",
                        "binarymime", "dsn", "starttls"):
            assert client.has_extn(keyword), keyword
        assert not client.has_extn("auth")
        client.starttls(context=server.tls_context())
        client.ehlo()
        assert not client.has_extn("auth") and not client.has_extn("starttls")


@pytest.mark.parametrize(
    ("recipient", "code", "enhanced"),
    [
        ("nobody@example.com", 550, b"5.1.1"),
        ("someone@remote.test", 554, b"5.7.1"),
        ("bob%remote.test@example.com", 554, b"5.7.1"),
        ("remote.test!bob@example.com", 554, b"5.7.1"),
    ],
)
def test_refuses_unknown_users_and_relaying(server: MailServer, recipient: str, code: int, enhanced: bytes):
    with smtplib.SMTP("127.0.0.1", server.smtp) as client:
        client.ehlo()
        client.mail("alice@remote.test")
        reply_code, text = client.rcpt(recipient)
        assert (reply_code, text[:5]) == (code, enhanced)


def test_source_route_to_a_foreign_domain_is_not_relayed(server: MailServer):
    replies = raw_session(server.smtp, b"EHLO x\r\nMAIL FROM:<a@remote.test>\r\n"
                                       b"RCPT TO:<@example.com:victim@remote.test>\r\n"
                                       b"RCPT TO:<@remote.test:bob@example.com>\r\nQUIT\r\n")
    lines = replies.split(b"\r\n")
    assert lines[-4].startswith(b"554 5.7.1")
    assert lines[-3].startswith(b"250 2.1.5")  # route ignored (RFC 5321 4.1.1.3), local final address


def test_postmaster_aliases_and_subaddress(server: MailServer):
    before = len(server.messages("bob@example.com"))
    carol_before = len(server.messages("carol@example.com"))
    with smtplib.SMTP("127.0.0.1", server.smtp) as client:
        client.sendmail("alice@remote.test", ["postmaster@example.com", "bob+lists@example.com"], MESSAGE)
        client.sendmail("alice@remote.test", ["team@example.com"], MESSAGE)
    assert len(server.messages("bob@example.com")) == before + 2  # one copy per message, not per address
    assert len(server.messages("carol@example.com")) == carol_before + 1


def test_alias_to_a_remote_address_is_queued(server: MailServer):
    with smtplib.SMTP("127.0.0.1", server.smtp) as client:
        client.sendmail("alice@remote.test", ["fwd@example.com"], MESSAGE)
    # forwarded off the server: the sender is rewritten with SRS (mailauth/srs.py) so SPF passes there
    [(sender, _)] = [row for row in server.queued() if row[1] == "someone@remote.test"]
    assert sender.startswith("SRS0=") and sender.endswith("=remote.test=alice@example.com")


def test_vrfy_is_off_and_rfc5321_commands_answer(server: MailServer):
    replies = raw_session(server.smtp, b"HELO x\r\nVRFY bob\r\nEXPN team\r\nHELP\r\nNOOP\r\nRSET\r\nQUIT\r\n")
    codes = [line[:9] for line in final_lines(replies)]
    assert codes == [b"250 mx.te", b"252 2.5.0", b"502 5.5.1", b"214 2.0.0", b"250 2.0.0", b"250 2.0.0",
                     b"221 2.0.0"]


def final_lines(replies: bytes) -> list[bytes]:
    """The last line of every reply after the greeting (multi-line replies collapse to one)."""
    return [line for line in replies.split(b"\r\n")[1:] if line[:3].isdigit() and line[3:4] == b" "]


def test_bad_sequences_and_syntax_get_5_5_x(server: MailServer):
    replies = raw_session(server.smtp, b"MAIL FROM:<a@remote.test>\r\nEHLO x\r\nRCPT TO:<bob@example.com>\r\n"
                                       b"DATA\r\nMAIL FROM:a@remote.test\r\nFOO\r\nQUIT\r\n")
    assert [line[:5] for line in final_lines(replies)] == [
        b"503 5", b"250 H", b"503 5", b"503 5", b"501 5", b"500 5", b"221 2"]
    assert all(b" 5.5." in line or b" 5.1." in line for line in final_lines(replies) if line[:1] == b"5")


def test_size_limit_is_advertised_and_enforced_at_mail(server: MailServer):
    with smtplib.SMTP("127.0.0.1", server.smtp) as client:
        client.ehlo()
        limit = int(client.esmtp_features["size"])
        assert client.mail("alice@remote.test", [f"SIZE={limit + 1}"])[0] == 552
        assert client.mail("alice@remote.test", [f"SIZE={limit}"])[0] == 250


def test_too_many_recipients(server: MailServer):
    with smtplib.SMTP("127.0.0.1", server.smtp) as client:
        client.ehlo()
        client.mail("alice@remote.test")
        codes = [client.rcpt("bob@example.com")[0] for _ in range(6)]
    assert codes == [250] * 5 + [452]


def test_quota_refused_at_rcpt_when_size_is_declared_and_at_end_of_data(server: MailServer):
    with smtplib.SMTP("127.0.0.1", server.smtp) as client:
        client.ehlo()
        client.mail("alice@remote.test", ["SIZE=100"])
        assert client.rcpt("full@example.com")[:2] == (452, b"4.2.2 Mailbox full, try again later")
        client.rset()
        client.mail("alice@remote.test")
        assert client.rcpt("full@example.com")[0] == 250
        assert client.data(MESSAGE)[:2] == (552, b"5.2.2 Mailbox full")


def test_utf8_address_and_headers_with_smtputf8(server: MailServer):
    message = "From: Zoë <zoe@remote.test>\r\nSubject: Grüße\r\n\r\nÄpfel\r\n".encode()
    with smtplib.SMTP("127.0.0.1", server.smtp) as client:
        client.ehlo()
        assert client.sendmail("zoë@remote.test", ["jörg@example.org"], message,
                               mail_options=["SMTPUTF8", "BODY=8BITMIME"]) == {}
    stored = server.messages("jörg@example.org")[-1]
    assert stored.endswith(message) and b"with UTF8SMTP id" in stored


def test_utf8_address_without_smtputf8_is_refused(server: MailServer):
    replies = raw_session(server.smtp, "EHLO x\r\nMAIL FROM:<zoë@remote.test>\r\nQUIT\r\n".encode())
    assert b"\r\n553 5.6.7" in replies or b"\r\n501 " in replies or b"\r\n553 " in replies


def test_bdat_chunks_make_one_message(server: MailServer):
    part1, part2 = b"Subject: chunks\r\n\r\nfirst\r\n.\r\n", b"second\r\n"
    script = (b"EHLO x\r\nMAIL FROM:<a@remote.test> BODY=BINARYMIME\r\nRCPT TO:<carol@example.com>\r\n"
              + f"BDAT {len(part1)}\r\n".encode() + part1 + f"BDAT {len(part2)} LAST\r\n".encode() + part2
              + b"QUIT\r\n")
    replies = raw_session(server.smtp, script)
    assert replies.count(b"250 2.0.0") >= 2 and b"Message accepted" in replies
    assert server.messages("carol@example.com")[-1].endswith(part1 + part2)


def test_binary_content_is_stored_base64_encoded_for_imap(server: MailServer):
    """RFC 3030 BINARYMIME brings octets IMAP's BODY[] cannot send (NUL): the local copy is stored with
    that part base64-encoded (RFC 3516 6), the same content once decoded."""
    message = (b"Subject: bin\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n"
               b"\r\n\x00\x01\x02\r\n")
    script = (b"EHLO x\r\nMAIL FROM:<a@remote.test> BODY=BINARYMIME\r\nRCPT TO:<carol@example.com>\r\n"
              + f"BDAT {len(message)} LAST\r\n".encode() + message + b"QUIT\r\n")
    assert b"Message accepted" in raw_session(server.smtp, script)
    stored = server.messages("carol@example.com")[-1]
    assert b"\x00" not in stored
    assert stored.endswith(b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
                           b"\r\nAAECDQo=\r\n")


def test_copy_refused_after_data_is_bounced_to_the_sender(server: MailServer):
    """duo@ reaches bob and full@ (over quota): the client hears 250 for the message, so full@'s
    refusal must come back as a DSN (queued to the remote sender, from the null reverse-path)."""
    before = len(server.messages("bob@example.com"))
    with smtplib.SMTP("127.0.0.1", server.smtp) as client:
        client.ehlo()
        client.mail("alice@remote.test")  # no SIZE: the quota cannot be judged at RCPT time
        assert client.rcpt("duo@example.com")[0] == 250
        assert client.data(MESSAGE)[0] == 250
    assert len(server.messages("bob@example.com")) == before + 1
    assert ("", "alice@remote.test") in server.queued()
    bounce = server.last_queued_bytes()
    assert b"report-type=delivery-status" in bounce
    assert b"Final-Recipient: rfc822; full@example.com" in bounce and b"Action: failed" in bounce
    assert b"Status: 5.2.2" in bounce
