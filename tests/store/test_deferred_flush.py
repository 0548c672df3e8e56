"""Flag changes ride the next flush (store/sqlite/deferred.py): no flush of their own, durable within
the delay, MODSEQs a crash may lose never handed out again, and a checkpoint only for a long WAL."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from pillarbox.store.records import DeliveryTarget
from pillarbox.store.sqlite import checkpoint, deferred
from pillarbox.store.sqlite.store import SQLiteStore
from tests.sqlite_files import sqlite_file
from tests.store.conftest import message


async def _inbox_with_messages(store: SQLiteStore, count: int) -> int:
    await store.add_domain("example.com")
    account = await store.add_account("bob@example.com", "hash", None)
    inbox = await store.get_mailbox(account.id, "INBOX")
    assert inbox is not None
    for n in range(count):
        await store.deliver(message(f"m{n}"), [DeliveryTarget(inbox.id)])
    return inbox.id


def _eventually(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_a_flag_change_owes_a_flush_that_the_writer_pays_within_the_delay(tmp_path: Path, run):
    async def scenario() -> None:
        store = SQLiteStore.open(tmp_path, flag_flush_delay=0.05)
        try:
            inbox = await _inbox_with_messages(store, 2)
            await store.store_flags(inbox, [1], "add", ["\\Seen"])  # the first raises the MODSEQ ceiling
            flushes = store._deferred.flushes
            await store.store_flags(inbox, [2], "add", ["\\Seen"])
            assert store._deferred.due_in() is not None  # committed, not flushed yet
            assert _eventually(lambda: store._deferred.due_in() is None)
            assert store._deferred.flushes == flushes + 1
        finally:
            await store.close()
    run(scenario())


def test_the_login_throttles_bookkeeping_rides_the_next_flush(tmp_path: Path, run):
    """A login writes a pending check, settles it and records the network: no flush of their own."""
    async def scenario() -> None:
        store = SQLiteStore.open(tmp_path, flag_flush_delay=60)
        try:
            inbox = await _inbox_with_messages(store, 1)
            await store.store_flags(inbox, [1], "add", ["\\Seen"])  # the first raises the MODSEQ ceiling
            flushes = store._deferred.flushes
            failure_id, _, _ = await store.add_login_failure("192.0.2.1", "bob@example.com", 1000.0, 0.0, 10, True)
            assert failure_id is not None and store._deferred.due_in() is not None  # committed, flush owed
            await store.settle_login_failure(failure_id, failed=False)
            await store.record_login_network("bob@example.com", "192.0.2.0/24", 1000.0, 0.0)
            assert store._deferred.flushes == flushes
            assert await store.login_network_seen("bob@example.com", "192.0.2.0/24", 0.0)
        finally:
            await store.close()
    run(scenario())


def test_new_mail_pays_the_flush_owed_by_flag_changes(tmp_path: Path, run):
    async def scenario() -> None:
        store = SQLiteStore.open(tmp_path, flag_flush_delay=60)
        try:
            inbox = await _inbox_with_messages(store, 2)
            await store.store_flags(inbox, [1], "add", ["\\Seen"])
            await store.store_flags(inbox, [2], "add", ["\\Flagged"])
            assert store._deferred.due_in() is not None
            await store.deliver(message("more"), [DeliveryTarget(inbox)])  # synchronous = FULL: flushes all
            assert store._deferred.due_in() is None
        finally:
            await store.close()
    run(scenario())


def test_with_no_delay_every_flag_change_is_flushed_before_its_reply(tmp_path: Path, run):
    async def scenario() -> None:
        store = SQLiteStore.open(tmp_path, flag_flush_delay=0)
        try:
            inbox = await _inbox_with_messages(store, 1)
            await store.store_flags(inbox, [1], "add", ["\\Seen"])
            assert store._deferred.due_in() is None and store._deferred.flushes == 0
        finally:
            await store.close()
    run(scenario())


def test_close_with_nothing_deleted_writes_nothing(tmp_path: Path, run):
    async def scenario() -> None:
        store = SQLiteStore.open(tmp_path)
        try:
            inbox = await _inbox_with_messages(store, 1)
            before = store.commit_stats
            assert await store.expunge(inbox, []) == []
            assert (await store.store_flags(inbox, [], "add", ["\\Seen"])).changed == ()
            assert store.commit_stats == before
        finally:
            await store.close()
    run(scenario())


def _modseq(db: Path) -> int:
    with sqlite_file(db) as conn:
        return conn.execute("SELECT value FROM counters WHERE name = 'modseq'").fetchone()[0]


def test_after_a_reboot_no_modseq_a_lost_flag_change_used_is_given_again(tmp_path: Path, run, monkeypatch):
    boot = [111]
    monkeypatch.setattr("pillarbox.store.sqlite.store.current_boot", lambda: boot[0])

    async def changes(count: int) -> list[int]:
        store = SQLiteStore.open(tmp_path, flag_flush_delay=60)
        try:
            mailbox = await store.get_mailbox((await store.get_account("bob@example.com")).id, "INBOX")
            seen = []
            for n in range(count):
                result = await store.store_flags(mailbox.id, [1], "add" if n % 2 else "remove", ["\\Seen"])
                seen += [change.modseq for change in result.changed]
            return seen
        finally:
            await store.close()

    async def setup() -> None:
        store = SQLiteStore.open(tmp_path)
        try:
            await _inbox_with_messages(store, 1)
        finally:
            await store.close()

    run(setup())
    handed_out = run(changes(6))
    db = tmp_path / "pillarbox.sqlite3"
    with sqlite_file(db) as conn:  # a power cut lost the last changes: the counter went back
        conn.execute("UPDATE counters SET value = ? WHERE name = 'modseq'", (handed_out[0],))
    run(changes(0))
    assert _modseq(db) == handed_out[0]  # the same boot: an open writes nothing
    boot[0] = 222
    run(changes(0))
    assert _modseq(db) > max(handed_out)
    assert min(run(changes(2))) > max(handed_out)


def test_many_flag_changes_raise_the_ceiling_block_by_block(tmp_path: Path, run, monkeypatch):
    monkeypatch.setattr(deferred, "MODSEQ_BLOCK", 3)

    async def scenario() -> tuple[int, int]:
        store = SQLiteStore.open(tmp_path, flag_flush_delay=60)
        try:
            inbox = await _inbox_with_messages(store, 1)
            for n in range(9):
                await store.store_flags(inbox, [1], "add" if n % 2 else "remove", ["\\Seen"])
            return store._deferred.flushes, _modseq(tmp_path / "pillarbox.sqlite3")
        finally:
            await store.close()

    flushes, modseq = run(scenario())
    with sqlite_file(tmp_path / "pillarbox.sqlite3") as conn:
        ceiling = conn.execute("SELECT value FROM counters WHERE name = 'modseq_ceiling'").fetchone()[0]
    assert modseq <= ceiling
    assert 3 <= flushes <= 4  # one flush per block of 3 MODSEQs, not one per change


def _wal_database(tmp_path: Path) -> tuple[Path, sqlite3.Connection]:
    db = tmp_path / "db.sqlite3"
    conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute("CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
    conn.execute("CREATE TABLE t (x)")
    return db, conn


def _watched(db: Path, checkpoints: threading.Event):
    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
        conn.set_trace_callback(lambda sql: "wal_checkpoint" in sql and checkpoints.set())
        return conn
    return connect


def test_after_a_checkpoint_the_wal_starts_over_in_the_checkpointer(tmp_path: Path, monkeypatch):
    """Started over by the next commit, the WAL cost that commit a second flush (the new header)."""
    monkeypatch.setattr(checkpoint, "INTERVAL_SECONDS", 0.01)
    db, conn = _wal_database(tmp_path)
    for n in range(20):
        conn.execute("INSERT INTO t VALUES (?)", (n,))
    worker = checkpoint.Checkpointer(lambda: sqlite3.connect(db, isolation_level=None, check_same_thread=False),
                                     Path(f"{db}-wal"), tmp_path / "write.lock")
    try:
        assert _eventually(lambda: worker.restarts == 1)
    finally:
        worker.close()
    # the WAL holds only the pages of the checkpointer's own commit: it was started over before it
    busy, frames, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0 and frames <= 2
    conn.close()


@pytest.mark.parametrize(("idle_seconds", "checkpointed"), [(3600, False), (0, True)])
def test_a_quiet_wal_is_checkpointed_after_the_idle_time(tmp_path: Path, monkeypatch, idle_seconds, checkpointed):
    """Commits that do not make the WAL file longer than it has been are left for IDLE_SECONDS."""
    monkeypatch.setattr(checkpoint, "INTERVAL_SECONDS", 0.01)
    monkeypatch.setattr(checkpoint, "IDLE_SECONDS", idle_seconds)
    db, conn = _wal_database(tmp_path)
    for n in range(50):
        conn.execute("INSERT INTO t VALUES (?)", (n,))
    checkpoints = threading.Event()
    worker = checkpoint.Checkpointer(_watched(db, checkpoints), Path(f"{db}-wal"), tmp_path / "write.lock")
    try:
        assert checkpoints.wait(5) and _eventually(lambda: worker.restarts == 1)  # the WAL grew: at once
        checkpoints.clear()
        conn.execute("INSERT INTO t VALUES (1)")  # written over the start of the WAL: no growth
        assert checkpoints.wait(0.5) is checkpointed
    finally:
        worker.close()
        conn.close()


def test_point_reads_stay_on_the_callers_thread(tmp_path: Path, run):
    """A hop to the reader pool per IMAP command (the changes since the last MODSEQ, the mailbox row)
    cost two thread switches and a wait for the GIL: those reads now run on the loop's connection."""
    async def scenario() -> None:
        store = SQLiteStore.open(tmp_path)
        try:
            inbox = await _inbox_with_messages(store, 1)
            account = await store.get_account("bob@example.com")
            hops: list[object] = []
            real_submit = store._pool.submit
            store._pool.submit = lambda *args, **kwargs: hops.append(args) or real_submit(*args, **kwargs)
            assert (await store.changes_since(inbox, 0)).mailbox.id == inbox
            assert (await store.get_mailbox(account.id, "INBOX")).id == inbox
            assert (await store.get_mailbox_by_id(inbox)).id == inbox
            assert await store.get_credentials("bob@example.com") is not None
            assert await store.login_failures("192.0.2.1", "bob@example.com", 0) == (0, 0)
            assert await store.list_mailboxes(account.id)
            assert (await store.read_message(1)).startswith(b"From: Alice")  # a body kept in the database
            assert hops == []
        finally:
            await store.close()
    run(scenario())
