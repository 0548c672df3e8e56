"""A writer killed mid-way leaves no half message: SIGKILL a process that delivers non-stop."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pillarbox.store.records import DeliveryTarget
from pillarbox.store.sqlite.store import SQLiteStore
from tests.sqlite_files import sqlite_file

WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from pillarbox.store.records import DeliveryTarget
    from pillarbox.store.sqlite.store import SQLiteStore

    async def main():
        store = SQLiteStore.open(Path(sys.argv[1]))
        await store.add_domain("example.com")
        account = await store.add_account("bob@example.com", "hash", None)
        inbox = await store.get_mailbox(account.id, "INBOX")
        n = 0
        while True:  # killed from outside; 8 deliveries in flight at a time
            batch = []
            for _ in range(8):
                n += 1
                body = (f"Subject: m{n}\\r\\n\\r\\n" + "line of text\\r\\n" * (n % 500)).encode()
                batch.append(store.deliver(body, [DeliveryTarget(inbox.id)]))
            await asyncio.gather(*batch)
            await store.store_flags(inbox.id, [n - 3], "add", ["\\\\Seen"])
            await store.expunge(inbox.id, [n - 7])

    asyncio.run(main())
    """
)


def _delivered(db: Path) -> int:
    try:
        with sqlite_file(db, timeout=5) as conn:
            return conn.execute("SELECT coalesce(max(uid), 0) FROM mailbox_messages").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.slow
@pytest.mark.parametrize("after_messages", [40, 400])
def test_sigkill_mid_write_leaves_consistent_store(tmp_path: Path, after_messages: int):
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)])
    try:
        deadline = time.monotonic() + 60
        while _delivered(tmp_path / "pillarbox.sqlite3") < after_messages:
            assert process.poll() is None, "writer died on its own"
            assert time.monotonic() < deadline, "writer too slow"
            time.sleep(0.02)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()

    async def check() -> None:
        store = SQLiteStore.open(tmp_path)
        try:
            assert await store.find_problems() == []
            account = await store.get_account("bob@example.com")
            inbox = await store.get_mailbox(account.id, "INBOX")
            before = inbox.uidnext
            [result] = await store.deliver(b"Subject: after\r\n\r\nhi\r\n", [DeliveryTarget(inbox.id)])
            assert result.uid == before  # UIDs carry on where the durable state left them
        finally:
            await store.close()

    asyncio.run(check())
