"""Shared POP3 test helpers: a store populated in-process, a fake connection, a session driver."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from pillarbox.auth.passwords import make_credentials
from pillarbox.pop3.session import POP3Services, POP3Session, POP3Settings
from pillarbox.store.api import Store
from pillarbox.store.records import DeliveryTarget
from tests.auth.helpers import fast_authenticator
from tests.stores import open_at

USER = "bob@example.com"
PASSWORD = "correct horse battery"


def message(n: int, body: str = "") -> bytes:
    text = body or f"Message number {n}.\r\n.A line starting with a dot\r\n..two dots\r\nlast line\r\n"
    return (f"From: alice@example.org\r\nTo: {USER}\r\nSubject: test {n}\r\n"
            f"Message-ID: <m{n}@example.org>\r\n\r\n{text}").encode()


async def populate_store(
    store: Store, messages: Sequence[bytes], address: str = USER, password: str = PASSWORD,
    policy: int | None = None, internal_date: datetime | None = None,
) -> int:
    """Create the domain and account if needed and deliver ``messages`` to INBOX; returns the INBOX id."""
    domain = address.rpartition("@")[2]
    if not await store.has_domain(domain):
        await store.add_domain(domain)
    account = await store.get_account(address)
    if account is None:
        account = await store.add_account(address, *make_credentials(password))
    await store.set_pop3_policy(address, policy)
    inbox = await store.get_mailbox(account.id, "INBOX")
    assert inbox is not None
    for raw in messages:
        await store.deliver(raw, [DeliveryTarget(inbox.id, internal_date=internal_date)])
    return inbox.id


def populate(data_dir: Path, messages: Sequence[bytes], **kwargs: object) -> int:
    """The same from synchronous code (wire tests, before the server starts; the store is multi-process safe)."""

    async def main() -> int:
        store = await open_at(data_dir)
        try:
            return await populate_store(store, messages, **kwargs)  # type: ignore[arg-type]
        finally:
            await store.close()

    return asyncio.run(main())


class FakeConnection:
    """What a session needs of net.listener.Connection, recording what is written."""

    def __init__(self, tls: bool = False, ip: str = "127.0.0.1") -> None:
        self.peer = (ip, 40000)
        self.is_tls = tls
        self.written = bytearray()
        self.tls_started = 0
        self.bytes_in = self.bytes_out = 0

    async def write(self, data: bytes) -> None:
        self.written += data
        self.bytes_out += len(data)

    async def start_tls(self, ctx: object) -> int:
        self.is_tls = True
        self.tls_started += 1
        return 0

    def logged_in(self, user: str) -> bool:
        return True

    def take(self) -> bytes:
        out, self.written = bytes(self.written), bytearray()
        return out


class FakeTLS:
    context = None


def make_services(store: Store, **settings: object) -> POP3Services:
    pop3_settings = POP3Settings(hostname="mx.test", **settings)  # type: ignore[arg-type]
    authenticator = fast_authenticator(store)
    return POP3Services(pop3_settings, store, authenticator, FakeTLS(), store.maildrop_locks())  # type: ignore[arg-type]


class Driver:
    """Feed a session lines (or raw bytes) and read back exactly what it wrote."""

    def __init__(self, services: POP3Services, tls: bool = False) -> None:
        self.conn = FakeConnection(tls=tls)
        self.session = POP3Session(self.conn, services)  # type: ignore[arg-type]

    async def start(self) -> bytes:
        await self.session.greet()
        return self.conn.take()

    async def send(self, data: bytes) -> bytes:
        await self.session.on_data(data)
        return self.conn.take()

    async def line(self, text: str) -> str:
        return (await self.send(text.encode() + b"\r\n")).decode()

    async def login(self, user: str = USER, password: str = PASSWORD) -> str:
        assert (await self.line(f"USER {user}")).startswith("+OK")
        return await self.line(f"PASS {password}")

    async def close(self) -> None:
        if not self.session.closed:
            await self.session.on_eof()
        self.session.finish()
