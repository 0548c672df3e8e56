"""A running Pillarbox with SMTP, submission and submissions listeners and a populated directory."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pillarbox.auth.passwords import make_credentials
from tests.server_process import NO_PREGREET_WAIT, ServerProcess, stored_messages, write_config
from tests.stores import open_at, run_at

PASSWORD = "correct horse battery"


@dataclass
class MailServer:
    process: ServerProcess
    data_dir: Path

    @property
    def smtp(self) -> int:
        return self.process.port("smtp")

    @property
    def submission(self) -> int:
        return self.process.port("submission")

    @property
    def submissions(self) -> int:
        return self.process.port("submissions")

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.data_dir / "tls" / "cert.pem"))

    def messages(self, address: str, folder: str = "INBOX") -> list[bytes]:
        return stored_messages(self.data_dir, address, folder)

    def last_queued_bytes(self) -> bytes:
        """The stored copy of the newest outbound queue entry (what the runner will send)."""
        async def newest(store: Any) -> bytes:
            return bytes(await store.read_message((await store.list_queue())[-1].message_id))
        return run_at(self.data_dir, newest)

    def queued(self) -> list[tuple[str, str]]:
        async def read() -> list[tuple[str, str]]:
            store = await open_at(self.data_dir)
            try:
                return [(entry.sender, r.address) for entry in await store.list_queue() for r in entry.recipients]
            finally:
                await store.close()

        return asyncio.run(read())


def populate(data_dir: Path) -> None:
    async def fill() -> None:
        store = await open_at(data_dir)
        try:
            await store.add_domain("example.com")
            await store.add_domain("example.org")
            for user in ("bob@example.com", "carol@example.com", "dave@example.com", "full@example.com",
                         "jörg@example.org"):
                await store.add_account(user, *make_credentials(PASSWORD))
            await store.set_quota("full@example.com", 10, None)
            await store.add_alias("team@example.com", ["bob@example.com", "carol@example.com"])
            await store.add_alias("fwd@example.com", ["someone@remote.test"])
            await store.add_alias("duo@example.com", ["bob@example.com", "full@example.com"])
        finally:
            await store.close()

    asyncio.run(fill())


NO_POLICY = '[policy]\ncheck = false\n[outbound]\nrelay = "127.0.0.1:9"\n'
"""SPF/DKIM/DMARC checks off and outbound mail parked (its only route refuses connections, so
entries stay queued for inspection): these tests are about SMTP itself and must not depend on DNS.
tests/mailauth and tests/e2e run checks and delivery against their own loopback DNS server."""


def start_server(tmp: Path, extra: str = "", mail_auth: bool = False,
                 services: tuple[str, ...] = ("smtp", "submission", "submissions", "http"),
                 antispam: str = NO_PREGREET_WAIT) -> MailServer:
    """``mail_auth``: keep SPF/DKIM/DMARC checks on (``extra`` then points ``[dns]`` somewhere local);
    ``antispam``: the body of the ``[antispam]`` table."""
    extra = extra if mail_auth else NO_POLICY + extra
    config = write_config(tmp, services=services, extra=extra, antispam=antispam)
    populate(tmp / "data")
    return MailServer(ServerProcess(config), tmp / "data")


def serving(running: MailServer) -> Iterator[MailServer]:
    """A module fixture's body: the server, then a clean stop with no traceback in its log."""
    yield running
    assert running.process.stop() == 0
    assert "Traceback" not in running.process.log()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailServer]:
    yield from serving(start_server(tmp_path_factory.mktemp("smtp"), extra="[limits]\nmax_recipients = 5\n"))
