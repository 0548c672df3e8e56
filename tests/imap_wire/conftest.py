"""A running Pillarbox with IMAP (143 STARTTLS, 993 TLS) and SMTP, plus logged-in client helpers."""

from __future__ import annotations

import imaplib
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server_process import NO_PREGREET_WAIT, ServerProcess, write_config
from tests.smtp.conftest import NO_POLICY, PASSWORD, MailServer, populate


class IMAPServer(MailServer):
    @property
    def imap(self) -> int:
        return self.process.port("imap")

    @property
    def imaps(self) -> int:
        return self.process.port("imaps")

    def login(self, user: str = "bob@example.com") -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.imap, timeout=15)
        client.starttls(ssl_context=self.tls_context())
        client.login(user, PASSWORD)
        return client


def start_imap_server(tmp: Path, extra: str = "", antispam: str = NO_PREGREET_WAIT) -> IMAPServer:
    config = write_config(tmp, services=("smtp", "imap", "imaps", "http"), extra=NO_POLICY + extra, antispam=antispam)
    populate(tmp / "data")
    return IMAPServer(ServerProcess(config), tmp / "data")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IMAPServer]:
    running = start_imap_server(tmp_path_factory.mktemp("imap"))
    yield running
    assert running.process.stop() == 0
    assert "Traceback" not in running.process.log()


def tls_context(server: IMAPServer) -> ssl.SSLContext:
    return server.tls_context()
