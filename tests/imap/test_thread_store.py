"""SORT and THREAD through a real session on the SQLite store: the thread_refs and base_subject columns
recorded at delivery, and rows stored before they existed (NULL), which fall back to the stored
structure and subject."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from pillarbox.imap.session import IMAPServices, IMAPSession, IMAPSettings
from pillarbox.store.api import Store
from pillarbox.store.records import DeliveryTarget
from tests.stores import execute_sql, open_at

DATE = "Date: Thu, 01 Jan 2026 0{}:00:00 +0000\r\n"
MESSAGES = [
    (f"Subject: hello\r\nMessage-ID: <a@t>\r\n{DATE.format(1)}\r\n1\r\n").encode(),
    (f"Subject: Re: hello\r\nMessage-ID: <b@t>\r\nIn-Reply-To: <a@t>\r\n{DATE.format(2)}\r\n2\r\n").encode(),
    (f"Subject: other\r\nMessage-ID: <d@t>\r\nReferences: <x@t>\r\n{DATE.format(3)}\r\n3\r\n").encode(),
    (f"Subject: Re: other\r\nMessage-ID: <e@t>\r\nReferences: <x@t>\r\n{DATE.format(4)}\r\n4\r\n").encode(),
    (f"Subject: Re: [list] apple (fwd)\r\nMessage-ID: <f@t>\r\n{DATE.format(5)}\r\n5\r\n").encode(),
]
BY_SUBJECT = b"* SORT 5 1 2 3 4\r\nt OK SORT completed\r\n"
BY_REFERENCES = b"* THREAD (1 2)((3)(4))(5)\r\nt OK THREAD completed\r\n"
BY_ORDERED_SUBJECT = b"* THREAD (1 2)(3 4)(5)\r\nt OK THREAD completed\r\n"


class Memory:
    is_tls = True
    peer = ("127.0.0.1", 0)

    def __init__(self) -> None:
        self.out = bytearray()

    async def write(self, data: bytes) -> None:
        self.out += data


async def logged_in(store: Store, **services: Any) -> tuple[IMAPSession, Memory, int]:
    """A session logged in as a new user of ``store`` (its output kept in memory), and the id of its INBOX;
    ``services``: IMAPServices fields to set."""
    await store.add_domain("t.test")
    account = await store.add_account("u@t.test", "hash", None)
    inbox = await store.get_mailbox(account.id, "INBOX")
    assert inbox is not None
    settings = IMAPSettings(hostname="t", timeout=60, max_literal=1 << 20, max_command_errors=10)
    memory = Memory()
    session = IMAPSession(memory, IMAPServices(settings, store, None, None, **services), True)  # type: ignore[arg-type]
    session.login(account)
    return session, memory, inbox.id


async def _answer(data_dir: Path, command: bytes, forget: str = "") -> bytes:
    """``command``'s answer over MESSAGES, after setting the column ``forget`` to NULL, if any."""
    store = await open_at(data_dir)
    try:
        session, memory, inbox_id = await logged_in(store)
        await store.append_messages(inbox_id, [(raw, DeliveryTarget(inbox_id)) for raw in MESSAGES])
        if forget:
            await execute_sql(store, *[f"UPDATE messages SET {forget} = NULL"] * 2)
        await session.on_data(b"s SELECT INBOX\r\n")
        memory.out.clear()
        await session.on_data(b"t " + command + b"\r\n")
        return bytes(memory.out)
    finally:
        await store.close()


ANSWERS = [(b"SORT (SUBJECT) UTF-8 ALL", BY_SUBJECT), (b"THREAD REFERENCES UTF-8 ALL", BY_REFERENCES),
           (b"THREAD ORDEREDSUBJECT UTF-8 ALL", BY_ORDERED_SUBJECT)]


@pytest.mark.parametrize(("command", "expected"), ANSWERS)
def test_sort_and_thread_compare_the_base_subject_kept_at_delivery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: bytes, expected: bytes
):
    """No subject is normalised when the command runs (that was most of its time over a big mailbox);
    delivery (store/prepare.py) still computes it."""

    def not_again(subject: str) -> tuple[str, bool]:
        raise AssertionError(f"base subject of {subject!r} computed at read")

    for module in ("pillarbox.imap.sort", "pillarbox.imap.thread", "pillarbox.store.names"):
        monkeypatch.setattr(f"{module}.base_subject", not_again)
    assert asyncio.run(_answer(tmp_path, command)) == expected


@pytest.mark.parametrize(("command", "expected"), ANSWERS)
@pytest.mark.parametrize("forget", ["thread_refs", "base_subject"])
def test_sort_and_thread_for_rows_stored_before_the_columns(tmp_path: Path, command: bytes, expected: bytes,
                                                            forget: str):
    assert asyncio.run(_answer(tmp_path, command, forget)) == expected
