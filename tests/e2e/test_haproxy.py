"""A real HAProxy (TCP mode) in front of a real ``pillarbox serve``: SMTP through ``send-proxy-v2`` with its
CRC32C, IMAPS (implicit TLS) through ``send-proxy`` (v1), and HAProxy ending TLS itself for IMAP and the web
(``send-proxy-v2-ssl``: Pillarbox's plain listeners take the password because the trusted balancer says the
client used TLS). The client connects to HAProxy from 127.0.0.5; HAProxy connects to Pillarbox from
127.0.0.2, the only source Pillarbox trusts; Pillarbox must see 127.0.0.5."""

from __future__ import annotations

import imaplib
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.outbound_env import free_port
from tests.mailauth.keys import message
from tests.net.proxy_headers import BALANCER
from tests.server_process import ServerProcess, write_config
from tests.smtp.conftest import NO_POLICY, PASSWORD, MailServer, populate

CLIENT = "127.0.0.5"
FRONT_HOST = "127.0.0.3"
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"  # scripts/test.sh installs it (DEBIAN_PACKAGES)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailServer]:
    tmp = tmp_path_factory.mktemp("haproxy-backend")
    extra = (f'proxy_protocol = ["smtp", "imaps", "imap", "http"]\nproxy_trusted = ["{BALANCER}"]\n' + NO_POLICY
             + '[log]\nlevel = "debug"\n')  # the balancer's own connections are in debug lines
    config = write_config(tmp, services=("smtp", "imaps", "imap", "http"), extra=extra)
    populate(tmp / "data")
    running = MailServer(ServerProcess(config), tmp / "data")
    yield running
    assert running.process.stop() == 0
    assert "Traceback" not in running.process.log()


@pytest.fixture(scope="module")
def fronts(server: MailServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, int]]:
    """HAProxy's port for each front (name: HAProxy's TLS, Pillarbox's listener, what HAProxy sends it);
    HAProxy runs in the foreground for this module."""
    directory = tmp_path_factory.mktemp("haproxy")
    certificate = directory / "server.pem"  # HAProxy wants the certificate and its key in one file
    certificate.write_bytes(b"".join((server.data_dir / "tls" / name).read_bytes() for name in ("cert.pem", "key.pem")))
    ended = f"ssl crt {certificate}"
    # health checks on smtp: HAProxy sends them with the PROXY header too (v2: the LOCAL command)
    fronts = {"smtp": ("", "smtp", "send-proxy-v2 proxy-v2-options crc32c check inter 200ms"),
              "imaps": ("", "imaps", "send-proxy"),
              "imaps_ended": (ended, "imap", "send-proxy-v2-ssl proxy-v2-options ssl-cipher"),
              "https_ended": (ended, "http", "send-proxy-v2-ssl")}
    ports = {name: free_port(FRONT_HOST) for name in fronts}
    sections = "".join(
        f"frontend {name}\n    bind {FRONT_HOST}:{ports[name]} {tls}\n    default_backend {name}_nodes\n"
        f"backend {name}_nodes\n    source {BALANCER}\n"
        f"    server node1 127.0.0.1:{server.process.port(listener)} {sends}\n"
        for name, (tls, listener, sends) in fronts.items())
    config = directory / "haproxy.cfg"
    config.write_text("defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 60s\n"
                      "    timeout server 60s\n" + sections)
    process = subprocess.Popen([HAPROXY, "-db", "-f", str(config)], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait_for(FRONT_HOST, ports["smtp"], process)
        yield ports
    finally:
        process.terminate()
        process.wait(10)


def _wait_for(host: str, port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"haproxy exited: {process.stdout.read().decode(errors='replace')}")
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("haproxy did not start listening")


def test_smtp_through_haproxy_v2(server: MailServer, fronts: dict[str, int]) -> None:
    with smtplib.SMTP(FRONT_HOST, fronts["smtp"], source_address=(CLIENT, 0), timeout=30) as client:
        client.ehlo("peer.test")
        client.sendmail("alice@elsewhere.test", ["bob@example.com"], message("alice@elsewhere.test", subject="hap"))
    [raw] = [m for m in server.messages("bob@example.com") if b"Subject: hap" in m]
    assert f"Received: from peer.test ([{CLIENT}])".encode() in raw
    server.process.wait_for_log(rf'msg="?transaction"? .*client={CLIENT} ')

def test_health_checks_keep_the_balancers_address(server: MailServer, fronts: dict[str, int]) -> None:
    """HAProxy's checks carry the header too (v2: the LOCAL command): taken, with the balancer's address."""
    balancer = re.escape(BALANCER)
    server.process.wait_for_log(rf"smtp: {balancer}:\d+ via {balancer}")
    assert f"closed {BALANCER}" not in server.process.log()


class IMAPSFromClient(imaplib.IMAP4_SSL):
    def _create_socket(self, timeout):
        sock = socket.create_connection((self.host, self.port), timeout, source_address=(CLIENT, 0))
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)


def test_imaps_through_haproxy_v1(server: MailServer, fronts: dict[str, int]) -> None:
    # the certificate names localhost, not HAProxy's 127.0.0.3
    client = IMAPSFromClient(FRONT_HOST, fronts["imaps"], ssl_context=ssl._create_unverified_context(), timeout=30)
    try:
        assert client.login("bob@example.com", PASSWORD)[0] == "OK"
    finally:
        client.logout()
    server.process.wait_for_log(rf'msg="?login"? protocol=imap ip={CLIENT} ')


def test_imaps_ended_at_haproxy(server: MailServer, fronts: dict[str, int]) -> None:
    """HAProxy ends TLS and sends v2 with the SSL TLV to the plain IMAP listener: a password is taken."""
    client = IMAPSFromClient(FRONT_HOST, fronts["imaps_ended"], ssl_context=ssl._create_unverified_context(),
                             timeout=30)
    try:
        assert "STARTTLS" not in client.capabilities and "LOGINDISABLED" not in client.capabilities
        assert client.login("carol@example.com", PASSWORD)[0] == "OK"
    finally:
        client.logout()
    server.process.wait_for_log(rf'msg="?login"? protocol=imap ip={CLIENT} user=carol@example.com')
    server.process.wait_for_log(rf"imap: {re.escape(CLIENT)}:\d+ via {re.escape(BALANCER)} \(TLS\)")


def test_web_login_over_https_ended_at_haproxy(server: MailServer, fronts: dict[str, int]) -> None:
    transport = httpx.HTTPTransport(local_address=CLIENT, verify=False)
    with httpx.Client(base_url=f"https://{FRONT_HOST}:{fronts['https_ended']}", transport=transport,
                      timeout=30) as client:
        answer = client.post("/api/v1/session", json={"address": "bob@example.com", "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        assert answer.headers["set-cookie"].startswith("__Host-pb_session=")
        assert client.get("/api/v1/account").json()["address"] == "bob@example.com"
    server.process.wait_for_log(rf'msg="?login"? protocol=web ip={CLIENT} ')
