"""A real ``pillarbox serve`` for the web tests (one per module): every client listener plus ``http`` and
``https``, a domain, an admin and a normal user made with the CLI, and httpx clients logged in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tests.dnsserver import DNSServer
from tests.server_process import SERVICES, ServerProcess, pillarbox, write_config

ADMIN, ADMIN_PASSWORD = "admin@example.com", "admin-secret-1"
USER, USER_PASSWORD = "bob@example.com", "bob-secret-12"
# No DNS server answers on 127.0.0.1:9, so outbound mail waits in the queue (a temporary failure), and the
# logins of many tests from one address never lock it out.
EXTRA = '\n[limits]\nauth_failures_per_ip = 1000\n\n[dns]\nnameservers = ["127.0.0.1:9"]\ntimeout = 1.0\n'


@dataclass
class WebServer:
    server: ServerProcess
    config: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.port('http')}"

    @property
    def tls_base(self) -> str:
        return f"https://127.0.0.1:{self.server.port('https')}"

    def cli(self, *args: str, input: bytes | None = None, check: bool = True) -> str:
        return pillarbox(self.config, *args, input=input, check=check).stdout.decode()

    def client(self) -> httpx.Client:
        """Over plain http: the internal face (``/metrics``), anonymous requests, API tokens."""
        return httpx.Client(base_url=self.base, timeout=30)

    def tls_client(self) -> httpx.Client:
        """Over https (the server's self-signed certificate): where a password is taken."""
        return httpx.Client(base_url=self.tls_base, timeout=30, verify=False)

    def login(self, address: str, password: str) -> tuple[httpx.Client, str]:
        """A client with a session over https, and the session's CSRF token."""
        client = self.tls_client()
        answer = client.post("/api/v1/session", json={"address": address, "password": password})
        assert answer.status_code == 200, answer.text
        return client, answer.json()["csrf"]


def start_web_server(directory: Path, extra: str = EXTRA) -> WebServer:
    config = write_config(directory, (*SERVICES, "https"), extra=extra)
    pillarbox(config, "domain", "add", "example.com")
    pillarbox(config, "user", "add", ADMIN, "--admin", "--password-stdin", input=ADMIN_PASSWORD.encode() + b"\n")
    pillarbox(config, "user", "add", USER, "--password-stdin", input=USER_PASSWORD.encode() + b"\n")
    return WebServer(ServerProcess(config), config)


@contextmanager
def web_server_with_dns(directory: Path, records: dict[tuple[str, str], list[str]]) -> Iterator[WebServer]:
    """A web server whose resolver is a loopback DNS server with ``records`` (tests/dnsserver.py); its log
    must hold no traceback when it stops."""
    dns = DNSServer(records)
    extra = f'\n[limits]\nauth_failures_per_ip = 1000\n\n[dns]\nnameservers = ["{dns.nameserver}"]\ntimeout = 1.0\n'
    web = start_web_server(directory, extra)
    try:
        yield web
    finally:
        web.server.stop()
        dns.close()
        assert "Traceback" not in web.server.log()


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    server = start_web_server(tmp_path_factory.mktemp("web"))
    try:
        yield server
    finally:
        server.server.stop()
