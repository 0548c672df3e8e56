"""Deliveries per second straight into the store, SQLite against PostgreSQL (no SMTP in front).

    .venv/bin/python bench/store_backends.py sqlite
    .venv/bin/python bench/store_backends.py postgres      # a throwaway local server, fsync on (durable)

600 messages of 1.4 KB into 1 or 50 mailboxes, one at a time or 50 at once. Bounded by count; local only.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import pg_cluster, stores

from pillarbox.store.postgres.store import PostgresStore
from pillarbox.store.records import DeliveryTarget
from pillarbox.store.sqlite.store import SQLiteStore

TOTAL = 600


def message(n: int) -> bytes:
    head = f"From: a@b.test\r\nTo: c@d.test\r\nSubject: m{n}\r\nMessage-ID: <{n}@b.test>\r\n\r\n"
    return (head + "hello world\r\n" * 100).encode()


async def rate(store: object, mailboxes: int, concurrency: int) -> float:
    await store.add_domain("d.test")  # type: ignore[attr-defined]
    boxes = []
    for i in range(mailboxes):
        account = await store.add_account(f"u{i}@d.test", "x", None)  # type: ignore[attr-defined]
        boxes.append((await store.get_mailbox(account.id, "INBOX")).id)  # type: ignore[attr-defined]
    gate = asyncio.Semaphore(concurrency)

    async def one(n: int) -> None:
        async with gate:
            await store.deliver(message(n), [DeliveryTarget(boxes[n % mailboxes])])  # type: ignore[attr-defined]

    start = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(TOTAL)))
    return TOTAL / (time.perf_counter() - start)


async def run(backend: str, urls: list[str]) -> None:
    for mailboxes in (1, 50):
        for concurrency in (1, 50):
            store = await PostgresStore.open(urls.pop()) if urls else SQLiteStore.open(Path(tempfile.mkdtemp()))
            try:
                per_second = await rate(store, mailboxes, concurrency)
            finally:
                await store.close()
            print(f"{backend} mailboxes={mailboxes} concurrency={concurrency}: {per_second:.0f} deliveries/s")


def main() -> None:
    if sys.argv[1:] == ["sqlite"]:
        asyncio.run(run("sqlite", []))
        return
    with pg_cluster.running_cluster(durable=True) as cluster:
        stores.make_template(cluster.url())
        asyncio.run(run("postgres", [stores.fresh_database(cluster.url()) for _ in range(4)]))


if __name__ == "__main__":
    main()
