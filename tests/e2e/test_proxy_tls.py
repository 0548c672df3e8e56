"""A balancer that ends the client's TLS itself (HAProxy ``send-proxy-v2-ssl``) in front of plain listeners,
on the wire against a real ``pillarbox serve``. With the v2 SSL TLV from the trusted balancer the connection
counts as TLS: a password is taken, STARTTLS is not offered, the Received header says ESMTPSA and where TLS
ended, the web login works and its cookie is Secure. Without the TLV, with its client flag clear (HAProxy's
TLV for a plain client), or from anyone but the balancer, nothing changes: no password before STARTTLS."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Iterator

import pytest

from tests.mailauth.keys import message
from tests.net.proxy_headers import ProxiedIMAP, ProxiedSMTP, closed_by_peer, proxied_socket, ssl_tlv, v1, v2
from tests.server_process import ServerProcess, write_config
from tests.smtp.conftest import NO_POLICY, PASSWORD, MailServer, populate

CLIENT = "203.0.113.90"
LISTENERS = ("submission", "imap", "managesieve", "http")


def ended(port: int) -> bytes:
    """What HAProxy sends after ending the client's TLS on ``port``."""
    return v2((CLIENT, 40000), ("198.51.100.1", port), tlvs=(ssl_tlv(),), with_crc=True)


NOT_ENDED = {
    "no TLV": v2((CLIENT, 40001), ("198.51.100.1", 143)),
    "flag clear": v2((CLIENT, 40002), ("198.51.100.1", 143), tlvs=(ssl_tlv("", "", client=0),)),
    "v1": v1((CLIENT, 40003), ("198.51.100.1", 143)),
}


@pytest.fixture(scope="module")
def mx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailServer]:
    tmp = tmp_path_factory.mktemp("proxy-tls")
    extra = (f'proxy_protocol = {json.dumps(list(LISTENERS))}\nproxy_trusted = ["127.0.0.2"]\n' + NO_POLICY
             + "[limits]\nauth_failures_per_ip = 1000\n")
    config = write_config(tmp, services=LISTENERS, extra=extra)
    populate(tmp / "data")
    running = MailServer(ServerProcess(config), tmp / "data")
    yield running
    assert running.process.stop() == 0
    assert "Traceback" not in running.process.log()


def test_imap_takes_a_password_when_the_balancer_ended_tls(mx: MailServer) -> None:
    with ProxiedIMAP(ended(993), "127.0.0.1", mx.process.port("imap"), timeout=30) as client:
        assert "AUTH=PLAIN" in client.capabilities
        assert "STARTTLS" not in client.capabilities and "LOGINDISABLED" not in client.capabilities
        assert client.login("bob@example.com", PASSWORD)[0] == "OK"
    mx.process.wait_for_log(rf'msg="?login"? protocol=imap ip={CLIENT} ')


@pytest.mark.parametrize("header", NOT_ENDED.values(), ids=NOT_ENDED.keys())
def test_imap_takes_no_password_otherwise(mx: MailServer, header: bytes) -> None:
    with ProxiedIMAP(header, "127.0.0.1", mx.process.port("imap"), timeout=30) as client:
        assert "LOGINDISABLED" in client.capabilities and "STARTTLS" in client.capabilities
        with pytest.raises(client.error, match="PRIVACYREQUIRED"):
            client.login("bob@example.com", PASSWORD)


def test_a_stranger_cannot_claim_tls(mx: MailServer) -> None:
    with proxied_socket(mx.process.port("imap"), ended(993), source="127.0.0.1") as sock:
        assert closed_by_peer(sock)
    mx.process.wait_for_log(r"imap: closed 127\.0\.0\.1: not a trusted proxy")


def test_submission_when_the_balancer_ended_tls(mx: MailServer) -> None:
    with ProxiedSMTP(ended(465), "127.0.0.1", mx.submission, timeout=30) as client:
        client.ehlo("laptop.test")
        assert client.has_extn("auth") and not client.has_extn("starttls")
        client.login("carol@example.com", PASSWORD)
        client.sendmail("carol@example.com", ["bob@example.com"], message("carol@example.com", subject="ended"))
    [raw] = [m for m in mx.messages("bob@example.com") if b"Subject: ended" in m]
    assert f"Received: from laptop.test ([{CLIENT}])".encode() in raw
    assert b"(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 at a load balancer)" in raw
    assert b"with ESMTPSA id " in raw


def test_submission_wants_starttls_otherwise(mx: MailServer) -> None:
    with ProxiedSMTP(NOT_ENDED["flag clear"], "127.0.0.1", mx.submission, timeout=30) as client:
        client.ehlo("laptop.test")
        assert client.has_extn("starttls") and not client.has_extn("auth")
        plain = base64.b64encode(f"\0carol@example.com\0{PASSWORD}".encode()).decode()
        assert client.docmd("AUTH", f"PLAIN {plain}")[0] == 538


def post_login(port: int, header: bytes) -> bytes:
    """The response head to a right web login sent behind ``header``."""
    body = json.dumps({"address": "bob@example.com", "password": PASSWORD}).encode()
    request = (b"POST /api/v1/session HTTP/1.1\r\nHost: mail.example.com\r\nContent-Type: application/json\r\n"
               b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    with proxied_socket(port, header) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        return sock.makefile("rb").read().partition(b"\r\n\r\n")[0]


def test_web_login_when_the_balancer_ended_tls(mx: MailServer) -> None:
    head = post_login(mx.process.port("http"), ended(443)).lower()
    assert head.startswith(b"http/1.1 200")
    assert b"set-cookie: __host-pb_session=" in head and b"; secure" in head
    assert post_login(mx.process.port("http"), NOT_ENDED["no TLV"]).startswith(b"HTTP/1.1 403")
    mx.process.wait_for_log(rf'msg="?login refused: no TLS"? protocol=web ip={CLIENT}')



def managesieve_login(port: int, header: bytes) -> tuple[bytes, bytes]:
    """The greeting's capabilities and the answer to a right AUTHENTICATE PLAIN behind ``header``."""
    plain = base64.b64encode(f"\0bob@example.com\0{PASSWORD}".encode())
    with proxied_socket(port, header) as sock, sock.makefile("rb") as server:
        lines = [server.readline()]
        while lines[-1] and not lines[-1].startswith(b"OK"):
            lines.append(server.readline())
        greeting = b"".join(lines)
        sock.sendall(b'AUTHENTICATE "PLAIN" "' + plain + b'"\r\n')
        return greeting, server.readline()


def test_managesieve_takes_a_password_only_when_the_balancer_ended_tls(mx: MailServer) -> None:
    port = mx.process.port("managesieve")
    greeting, answer = managesieve_login(port, ended(4190))
    assert b'"SASL" "SCRAM-SHA-256 PLAIN LOGIN"' in greeting and b'"STARTTLS"' not in greeting
    assert answer.startswith(b"OK")
    greeting, answer = managesieve_login(port, NOT_ENDED["no TLV"])
    assert b'"SASL" ""' in greeting and b'"STARTTLS"' in greeting
    assert answer.startswith(b"NO")
