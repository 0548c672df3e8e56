"""The group-commit writer: one transaction per batch, a failing job alone rolled back, and the jobs
that queue while another process holds the write lock joining the batch that waits for it."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import threading
from pathlib import Path

from pillarbox.store.blobs import BlobStore
from pillarbox.store.records import DeliveryTarget
from pillarbox.store.sqlite.store import SQLiteStore
from pillarbox.store.sqlite.writer import GroupCommitWriter, Txn
from tests.sqlite_files import sqlite_file
from tests.store.conftest import message
from tests.store_contract.test_messages import LARGE_BODY, _account


def _writer(tmp_path: Path, commits: list[int]) -> GroupCommitWriter:
    db = tmp_path / "db.sqlite3"
    with sqlite_file(db) as conn:
        conn.execute("CREATE TABLE done (n INTEGER)")
    return GroupCommitWriter(lambda: sqlite3.connect(db, isolation_level=None, check_same_thread=False),
                             BlobStore(tmp_path / "blobs"), lambda: commits.append(1), tmp_path / "write.lock")


def _insert(n: int):
    """A job that stores ``n`` (refused when negative); it returns ``n`` and which batch ran it."""
    def job(txn: Txn) -> tuple[int, int]:
        txn.conn.execute("INSERT INTO done VALUES (?)", (n,))
        if n < 0:
            raise ValueError("refused")
        return n, id(txn)  # one Txn per batch
    return job


def test_jobs_queued_while_another_process_holds_the_lock_share_one_commit(tmp_path: Path, run):
    commits: list[int] = []
    writer = _writer(tmp_path, commits)
    other = os.open(tmp_path / "write.lock", os.O_RDWR | os.O_CREAT)  # another process's writer, in effect
    fcntl.flock(other, fcntl.LOCK_EX)
    threading.Timer(0.3, lambda: fcntl.flock(other, fcntl.LOCK_UN)).start()

    async def scenario() -> list[object]:
        first = writer.enqueue(_insert(1))
        await asyncio.sleep(0.1)  # the writer has taken job 1 and waits for the lock
        rest = [writer.enqueue(_insert(n)) for n in (2, -3, 4)]
        with_blob = writer.enqueue(_insert(5), {"ab" * 32: b"file body"})
        after = writer.enqueue(_insert(6))
        return await asyncio.gather(first, *rest, with_blob, after, return_exceptions=True)

    try:
        results = run(scenario())
    finally:
        writer.close()
        os.close(other)
    assert isinstance(results[2], ValueError)
    done = [r for r in results if not isinstance(r, BaseException)]
    assert [n for n, _ in done] == [1, 2, 4, 5, 6]
    batch_of = dict(done)
    # 1 was taken before the lock was free; 2, 3 (rolled back alone) and 4, queued meanwhile, joined
    # it in one commit; 5 brings a blob file, written before the lock is taken, so it starts the next
    # batch, and 6 follows it there
    assert batch_of[1] == batch_of[2] == batch_of[4] != batch_of[5] == batch_of[6]
    assert (writer.batches, writer.jobs_done, len(commits)) == (2, 6, 2)
    with sqlite_file(tmp_path / "db.sqlite3") as conn:
        assert [n for (n,) in conn.execute("SELECT n FROM done ORDER BY rowid")] == [1, 2, 4, 5, 6]


def test_concurrent_deliveries_share_commits(with_store):
    async def body(store: SQLiteStore) -> None:
        _, inbox = await _account(store)
        batches_before, jobs_before = store.commit_stats
        deliveries = (store.deliver(message(f"m{n}"), [DeliveryTarget(inbox.id)]) for n in range(60))
        results = await asyncio.gather(*deliveries)
        assert sorted(r[0].uid for r in results) == list(range(1, 61))
        batches, jobs = store.commit_stats
        assert jobs - jobs_before == 60
        assert batches - batches_before < 60  # several deliveries rode one commit

    with_store(body)


def test_a_message_whose_file_is_lost_leaves_the_backlog(with_store):
    async def body(store: SQLiteStore) -> None:
        _, inbox = await _account(store)
        await store.deliver(message("big", body=LARGE_BODY), [DeliveryTarget(inbox.id)])
        await store.deliver(message("small", body="egret\r\n"), [DeliveryTarget(inbox.id)])
        for path in (store.data_dir / "blobs").rglob("*"):
            if path.is_file():
                path.unlink()
        assert await store.search_text(inbox.id, "egret", ("body",)) == {2}  # no endless catching up
        assert (await store.index_backlog()).count == 0

    with_store(body)
