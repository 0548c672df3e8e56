"""Behind a load balancer, on the wire: a real ``pillarbox serve`` (two processes) whose listeners take the
PROXY protocol from 127.0.0.2 only. The client the header names is the one SPF checks, the Received header
and the log lines show, the per-address limit counts and the login throttle locks out; implicit TLS (465,
993) works behind the header; a stranger (127.0.0.1) and a balancer that sends garbage are closed."""

from __future__ import annotations

import json
import re
import smtplib
from collections.abc import Iterator

import pytest

from tests.dnsserver import DNSServer
from tests.mailauth.keys import message
from tests.net.proxy_headers import (
    BALANCER,
    ProxiedIMAPS,
    ProxiedSMTP,
    ProxiedSMTPS,
    closed_by_peer,
    proxied_socket,
    v1,
    v2,
)
from tests.server_process import ServerProcess, write_config
from tests.smtp.conftest import PASSWORD, MailServer, populate

SENDER_IP = "203.0.113.7"
FRONT = ("198.51.100.1", 25)
LISTENERS = ("smtp", "submissions", "imaps", "http")


@pytest.fixture(scope="module")
def dns() -> Iterator[DNSServer]:
    server = DNSServer({("good.test", "TXT"): [f'"v=spf1 ip4:{SENDER_IP} -all"'],
                       ("_dmarc.good.test", "TXT"): ['"v=DMARC1; p=reject"']})
    yield server
    server.close()


@pytest.fixture(scope="module")
def mx(tmp_path_factory: pytest.TempPathFactory, dns: DNSServer) -> Iterator[MailServer]:
    tmp = tmp_path_factory.mktemp("proxy")
    extra = (f'proxy_protocol = {json.dumps(list(LISTENERS))}\nproxy_trusted = ["{BALANCER}"]\n'
             f'[dns]\nnameservers = ["{dns.nameserver}"]\ntimeout = 2\n[outbound]\nrelay = "127.0.0.1:9"\n'
             "[limits]\nauth_failures_per_ip = 2\nsmtp_connections_per_ip = 2\n")
    config = write_config(tmp, services=LISTENERS, extra=extra, workers=2)
    populate(tmp / "data")
    running = MailServer(ServerProcess(config), tmp / "data")
    yield running
    assert running.process.stop() == 0
    assert "Traceback" not in running.process.log()


def deliver(mx: MailServer, header: bytes, sender: str, subject: str) -> tuple[int, bytes]:
    with ProxiedSMTP(header, "127.0.0.1", mx.smtp, timeout=30) as client:
        client.ehlo("peer.test")
        assert client.mail(sender)[0] == 250
        assert client.rcpt("bob@example.com")[0] == 250
        return client.data(message(sender, subject=subject))


def stored(mx: MailServer, subject: str) -> bytes:
    [found] = [m for m in mx.messages("bob@example.com") if f"Subject: {subject}".encode() in m]
    return found


def test_spf_received_and_the_log_see_the_client_of_the_header(mx: MailServer) -> None:
    assert deliver(mx, v1((SENDER_IP, 40000), FRONT), "alice@good.test", "via v1")[0] == 250
    assert deliver(mx, v2((SENDER_IP, 40001), FRONT), "alice@good.test", "via v2")[0] == 250
    for subject in ("via v1", "via v2"):
        raw = stored(mx, subject)
        assert f"Received: from peer.test ([{SENDER_IP}])".encode() in raw
        assert b"spf=pass" in raw and b"dmarc=pass" in raw
    mx.process.wait_for_log(rf'msg="?transaction"? .*role=smtp client={SENDER_IP} .*result="?250')
    # The same balancer, for a client SPF does not allow: DMARC p=reject, whatever the socket says.
    code, text = deliver(mx, v2(("198.51.100.9", 40002), FRONT), "alice@good.test", "not allowed")
    assert (code, text[:5]) == (550, b"5.7.1")


def test_implicit_tls_submission_behind_the_header(mx: MailServer) -> None:
    header = v2(("2001:db8::20", 50000), ("2001:db8::1", 465), with_crc=True)
    with ProxiedSMTPS(header, "127.0.0.1", mx.submissions, context=mx.tls_context(), timeout=30) as client:
        client.login("carol@example.com", PASSWORD)
        client.sendmail("carol@example.com", ["bob@example.com"], message("carol@example.com", subject="submitted"))
    assert b"Received: from " in stored(mx, "submitted")
    assert b"([IPv6:2001:db8::20])" in stored(mx, "submitted")


def imaps(mx: MailServer, header: bytes) -> ProxiedIMAPS:
    return ProxiedIMAPS(header, "127.0.0.1", mx.process.port("imaps"), ssl_context=mx.tls_context(), timeout=30)


def test_the_login_throttle_locks_out_the_client_not_the_balancer(mx: MailServer) -> None:
    """Two failures lock 203.0.113.66 out over IMAPS; 203.0.113.67, through the same balancer, logs in."""
    guesser = v1(("203.0.113.66", 1000), ("198.51.100.1", 993))
    for _ in range(2):
        with imaps(mx, guesser) as client, pytest.raises(client.error):
            client.login("bob@example.com", "wrong")
    mx.process.wait_for_log(r'msg="?login failed"? protocol=imap ip=203\.0\.113\.66 ')
    with imaps(mx, guesser) as client, pytest.raises(client.error):
        client.login("bob@example.com", PASSWORD)  # the right password, but this client is locked out
    mx.process.wait_for_log(r'msg="?login refused: too many failures"? protocol=imap ip=203\.0\.113\.66 ')
    colleague = v2(("203.0.113.67", 1001), ("198.51.100.1", 993))
    with imaps(mx, colleague) as client:
        assert client.login("bob@example.com", PASSWORD)[0] == "OK"


def test_the_connection_limit_per_address_counts_the_client(mx: MailServer) -> None:
    """smtp_connections_per_ip = 2, across both processes: the client's third is refused, another's is not."""
    header = v2(("203.0.113.50", 1), FRONT)
    held = [proxied_socket(mx.smtp, header) for _ in range(2)]
    assert all(sock.recv(1024).startswith(b"220 ") for sock in held)
    with proxied_socket(mx.smtp, header) as third:
        assert third.recv(1024).startswith(b"421 4.7.0")
    with proxied_socket(mx.smtp, v2(("203.0.113.51", 1), FRONT)) as other:
        assert other.recv(1024).startswith(b"220 ")
    for sock in held:
        sock.close()


def test_http_takes_the_header_and_ignores_x_forwarded_for(mx: MailServer) -> None:
    body = json.dumps({"address": "bob@example.com", "password": "wrong"}).encode()
    request = (b"POST /api/v1/session HTTP/1.1\r\nHost: mx.test\r\nContent-Type: application/json\r\n"
               b"X-Forwarded-For: 192.0.2.99\r\nConnection: close\r\n"
               b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    with proxied_socket(mx.process.port("http"), v1(("203.0.113.80", 2000), ("198.51.100.1", 443))) as sock:
        sock.sendall(request)
        assert sock.makefile("rb").readline().startswith(b"HTTP/1.1 403")  # no TLS: test_proxy_tls.py
    line = mx.process.wait_for_log(r'msg="?login refused: no TLS"? protocol=web ')
    assert "ip=203.0.113.80" in line and "192.0.2.99" not in mx.process.log()


def test_a_stranger_with_a_header_is_closed_unread(mx: MailServer) -> None:
    with proxied_socket(mx.smtp, v1(("192.0.2.1", 1), FRONT), source="127.0.0.1") as sock:
        assert closed_by_peer(sock)
    mx.process.wait_for_log(r"smtp: closed 127\.0\.0\.1: not a trusted proxy")
    with pytest.raises((smtplib.SMTPServerDisconnected, ConnectionError)):  # a client straight to the port
        smtplib.SMTP("127.0.0.1", mx.smtp, timeout=10)


@pytest.mark.parametrize("garbage", [b"EHLO direct\r\n", b"PROXY TCP4 192.0.2.1 198.51.100.1 1 25\n"])
def test_a_balancer_without_a_valid_header_is_closed(mx: MailServer, garbage: bytes) -> None:
    with proxied_socket(mx.smtp, garbage) as sock:
        assert closed_by_peer(sock)
    mx.process.wait_for_log(rf"smtp: closed {re.escape(BALANCER)}: ")

