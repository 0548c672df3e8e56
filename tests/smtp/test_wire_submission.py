"""Submission (587 STARTTLS, 465 implicit TLS): authentication required, only over TLS, sender owned."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import shutil
import smtplib
import subprocess

import aiosmtplib
import pytest

from pillarbox.auth import sasl
from tests.smtp.conftest import PASSWORD, MailServer

MESSAGE = b"From: bob@example.com\r\nTo: x@remote.test\r\nSubject: out\r\n\r\nHello there.\r\n"


def submit(server: MailServer) -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", server.submission, timeout=10)
    client.starttls(context=server.tls_context())
    client.ehlo()
    return client


def test_no_auth_and_no_mail_before_tls(server: MailServer):
    with smtplib.SMTP("127.0.0.1", server.submission) as client:
        client.ehlo()
        assert not client.has_extn("auth")
        assert client.mail("bob@example.com")[:2] == (530, b"5.7.0 Authentication required")
        plain = base64.b64encode(f"\0bob@example.com\0{PASSWORD}".encode()).decode()
        code, text = client.docmd("AUTH", "PLAIN " + plain)
        assert (code, text[:6]) == (538, b"5.7.11")


def test_starttls_auth_plain_and_send_local_and_remote(server: MailServer):
    with submit(server) as client:
        assert "PLAIN" in client.esmtp_features["auth"] and "SCRAM-SHA-256" in client.esmtp_features["auth"]
        client.login("bob@example.com", PASSWORD)
        assert client.sendmail("bob@example.com", ["carol@example.com", "x@remote.test"], MESSAGE) == {}
    stored = server.messages("carol@example.com")[-1]
    assert b"with ESMTPSA id" in stored and b"using TLSv1.3 with cipher" in stored
    assert ("bob@example.com", "x@remote.test") in server.queued()
    relayed = server.last_queued_bytes()
    # the copy that leaves is DKIM-signed twice (Ed25519 and RSA, RFC 8463) and has no Return-Path
    assert relayed.count(b"DKIM-Signature: ") == 2 and b"a=ed25519-sha256" in relayed
    assert b"Return-Path:" not in relayed and stored.startswith(b"Return-Path: <bob@example.com>")


def test_auth_login_mechanism(server: MailServer):
    with submit(server) as client:
        client.user, client.password = "bob@example.com", PASSWORD
        assert client.auth("LOGIN", client.auth_login)[0] == 235


def test_scram_sha_256_over_the_wire(server: MailServer):
    # the client side of SCRAM is small enough to write here
    with submit(server) as client:
        nonce = base64.b64encode(os.urandom(18)).decode()
        first_bare = f"n=bob@example.com,r={nonce}"
        client_first = base64.b64encode(f"n,,{first_bare}".encode()).decode()
        code, challenge = client.docmd("AUTH", "SCRAM-SHA-256 " + client_first)
        assert code == 334
        server_first = base64.b64decode(challenge).decode()
        fields = dict(item.split("=", 1) for item in server_first.split(","))
        salted = hashlib.pbkdf2_hmac("sha256", sasl.saslprep(PASSWORD).encode(), base64.b64decode(fields["s"]),
                                     int(fields["i"]))
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        without_proof = f"c=biws,r={fields['r']}"
        auth_message = f"{first_bare},{server_first},{without_proof}".encode()
        signature = hmac.new(hashlib.sha256(client_key).digest(), auth_message, hashlib.sha256).digest()
        proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, signature, strict=True))).decode()
        code, final = client.docmd(base64.b64encode(f"{without_proof},p={proof}".encode()).decode())
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        expected = base64.b64encode(hmac.new(server_key, auth_message, hashlib.sha256).digest()).decode()
        assert (code, base64.b64decode(final).decode()) == (334, f"v={expected}")
        assert client.docmd("")[0] == 235


def test_wrong_password_is_535_5_7_8(server: MailServer):
    with submit(server) as client, pytest.raises(smtplib.SMTPAuthenticationError) as refused:
        client.login("bob@example.com", "wrong")
    assert refused.value.smtp_code == 535 and refused.value.smtp_error.startswith(b"5.7.8")


def test_sender_must_be_owned(server: MailServer):
    with submit(server) as client:
        client.login("bob@example.com", PASSWORD)
        assert client.mail("carol@example.com")[:2] == (553, b"5.7.1 Sender address not owned by authenticated user")
        assert client.mail("team@example.com")[0] == 250  # an alias that reaches bob
        client.rset()
        assert client.mail("bob+news@example.com")[0] == 250


def test_submissions_implicit_tls(server: MailServer):
    with smtplib.SMTP_SSL("127.0.0.1", server.submissions, context=server.tls_context(), timeout=10) as client:
        client.ehlo()
        assert not client.has_extn("starttls")
        client.login("carol@example.com", PASSWORD)
        message = MESSAGE.replace(b"From: bob@", b"From: carol@")  # her own From: (see test_wire_senders)
        assert client.sendmail("carol@example.com", ["bob@example.com"], message) == {}


def test_concurrent_submissions_with_aiosmtplib(server: MailServer):
    async def send(n: int) -> None:
        await aiosmtplib.send(
            f"From: carol@example.com\r\nSubject: parallel {n}\r\n\r\nbody\r\n".encode(),
            sender="carol@example.com", recipients=["bob@example.com"], hostname="127.0.0.1",
            port=server.submissions, use_tls=True, tls_context=server.tls_context(),
            username="carol@example.com", password=PASSWORD,
        )

    before = len(server.messages("bob@example.com"))

    async def all_of_them() -> None:
        await asyncio.gather(*(send(n) for n in range(20)))

    asyncio.run(all_of_them())
    subjects = {m.split(b"Subject: ")[1].split(b"\r\n")[0] for m in server.messages("bob@example.com")[before:]}
    assert subjects == {f"parallel {n}".encode() for n in range(20)}


def test_swaks_starttls_auth_send(server: MailServer):
    swaks = shutil.which("swaks")
    assert swaks, "swaks is installed by scripts/test.sh (Debian package swaks)"
    result = subprocess.run(
        [swaks, "--server", f"127.0.0.1:{server.submission}", "--tls", "--tls-ca-path",
         str(server.data_dir / "tls" / "cert.pem"), "--auth", "PLAIN", "--auth-user", "bob@example.com",
         "--auth-password", PASSWORD, "--from", "bob@example.com", "--to", "carol@example.com",
         "--header", "Subject: via swaks", "--body", "sent by swaks"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert b"Subject: via swaks" in server.messages("carol@example.com")[-1]


def test_notify_success_for_a_local_recipient(server: MailServer):
    before = len(server.messages("carol@example.com"))
    with submit(server) as client:
        client.login("carol@example.com", PASSWORD)
        client.mail("carol@example.com", ["RET=HDRS", "ENVID=track-1"])
        assert client.rcpt("bob@example.com", ["NOTIFY=SUCCESS", "ORCPT=rfc822;bob@example.com"])[0] == 250
        assert client.data(b"From: carol@example.com\r\nSubject: please confirm\r\n\r\nhi\r\n")[0] == 250
    [report] = server.messages("carol@example.com")[before:]
    assert report.startswith(b"Return-Path: <>")
    assert b"Action: delivered" in report and b"Original-Envelope-Id: track-1" in report
    assert b"Original-Recipient: rfc822; bob@example.com" in report
