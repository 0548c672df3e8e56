"""THREAD through a real session on the SQLite store: the thread_refs column recorded at delivery,
and rows stored before it existed (thread_refs NULL), which fall back to the stored structure."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pillarbox.imap.session import IMAPServices, IMAPSession, IMAPSettings
from pillarbox.store.records import DeliveryTarget
from tests.stores import execute_sql, open_at

DATE = "Date: Thu, 01 Jan 2026 0{}:00:00 +0000\r\n"
MESSAGES = [
    (f"Subject: hello\r\nMessage-ID: <a@t>\r\n{DATE.format(1)}\r\n1\r\n").encode(),
    (f"Subject: Re: hello\r\nMessage-ID: <b@t>\r\nIn-Reply-To: <a@t>\r\n{DATE.format(2)}\r\n2\r\n").encode(),
    (f"Subject: other\r\nMessage-ID: <d@t>\r\nReferences: <x@t>\r\n{DATE.format(3)}\r\n3\r\n").encode(),
    (f"Subject: Re: other\r\nMessage-ID: <e@t>\r\nReferences: <x@t>\r\n{DATE.format(4)}\r\n4\r\n").encode(),
]


class Memory:
    is_tls = True
    peer = ("127.0.0.1", 0)

    def __init__(self) -> None:
        self.out = bytearray()

    async def write(self, data: bytes) -> None:
        self.out += data


async def _thread(data_dir: Path, forget_refs: bool) -> bytes:
    store = await open_at(data_dir)
    try:
        await store.add_domain("t.test")
        account = await store.add_account("u@t.test", "hash", None)
        inbox = await store.get_mailbox(account.id, "INBOX")
        assert inbox is not None
        await store.append_messages(inbox.id, [(raw, DeliveryTarget(inbox.id)) for raw in MESSAGES])
        if forget_refs:
            await execute_sql(store, *["UPDATE messages SET thread_refs = NULL"] * 2)
        settings = IMAPSettings(hostname="t", timeout=60, max_literal=1 << 20, max_command_errors=10)
        memory = Memory()
        session = IMAPSession(memory, IMAPServices(settings, store, None, None), True)  # type: ignore[arg-type]
        session.login(account)
        await session.on_data(b"s SELECT INBOX\r\n")
        memory.out.clear()
        await session.on_data(b"t THREAD REFERENCES UTF-8 ALL\r\n")
        return bytes(memory.out)
    finally:
        await store.close()


def test_thread_from_recorded_references(tmp_path: Path):
    out = asyncio.run(_thread(tmp_path, forget_refs=False))
    assert out == b"* THREAD (1 2)((3)(4))\r\nt OK THREAD completed\r\n"


def test_thread_for_rows_stored_before_thread_refs(tmp_path: Path):
    out = asyncio.run(_thread(tmp_path, forget_refs=True))
    assert out == b"* THREAD (1 2)((3)(4))\r\nt OK THREAD completed\r\n"
