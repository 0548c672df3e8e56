"""The free-space reserve, with the free space injected: new mail is refused below it (and nothing of it
stored), what follows from acknowledged mail still commits, and all is well again once there is room.
A full disk met all the same becomes the same StorageFull, never a raw OSError or SQLite error."""

from __future__ import annotations

import errno
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from pillarbox.errors import StorageFull
from pillarbox.store.records import DeliveryTarget
from pillarbox.store.reserve import DiskReserve, is_disk_full
from pillarbox.store.sqlite import checkpoint
from pillarbox.store.sqlite.store import SQLiteStore
from tests.conftest import run_against
from tests.store.conftest import message
from tests.store_contract.test_messages import LARGE_BODY, _account

MiB = 1024 * 1024


class FakeDisk:
    def __init__(self, free: int) -> None:
        self.free = free

    def __call__(self, _path: Path) -> int:
        return self.free


def test_admit_takes_pieces_in_order_while_they_fit_above_the_reserve():
    reserve = DiskReserve(Path("/"), min_free=100, free=FakeDisk(1000))
    assert reserve.room() == 900
    assert reserve.admit([500, 500, 300, 100]) == [True, False, True, True]
    assert reserve.has_room(900) and not reserve.has_room(901) and reserve.has_room(0)
    assert not DiskReserve(Path("/"), min_free=1000, free=FakeDisk(1000)).has_room(0)


def test_disk_full_errors_are_recognised():
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = 13
    busy = sqlite3.OperationalError("database is locked")
    busy.sqlite_errorcode = 5
    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert is_disk_full(OSError(errno.EDQUOT, "Disk quota exceeded")) and is_disk_full(full)
    assert not is_disk_full(OSError(errno.ECONNRESET, "reset")) and not is_disk_full(busy)


@pytest.fixture
def disk() -> FakeDisk:
    return FakeDisk(100 * MiB)


@pytest.fixture
def reserved_store(tmp_path: Path, disk: FakeDisk):
    """Like ``with_store``, with a reserve of 10 MiB on the ``disk`` the test sets free space on."""
    return lambda body: run_against(lambda: SQLiteStore(tmp_path / "data", min_free_space=10 * MiB, free_space=disk),
                                    body)


def test_new_mail_is_refused_below_the_reserve_and_accepted_again_when_room_returns(reserved_store, disk):
    async def body(store: SQLiteStore) -> None:
        _, inbox = await _account(store)
        await store.deliver(message("first"), [DeliveryTarget(inbox.id)])
        disk.free = 10 * MiB + 100  # room for 100 bytes of new mail
        assert not store.has_room(1000) and store.has_room(50)
        with pytest.raises(StorageFull):
            await store.deliver(message("second"), [DeliveryTarget(inbox.id)])
        with pytest.raises(StorageFull):
            await store.append_messages(inbox.id, [(message("appended"), DeliveryTarget(inbox.id))])
        # what follows from mail already acknowledged may use the reserve
        await store.store_flags(inbox.id, [1], "add", ["\\Seen"])
        assert [e.uid for e in await store.list_messages(inbox.id)] == [1]
        disk.free = 20 * MiB
        assert store.has_room(1000)
        await store.deliver(message("third"), [DeliveryTarget(inbox.id)])
        assert [e.uid for e in await store.list_messages(inbox.id)] == [1, 2]
        await store.expunge(inbox.id, [1])
        assert await store.find_problems() == []

    reserved_store(body)


def test_search_answers_while_the_reserve_keeps_the_index_from_growing(reserved_store, disk):
    async def body(store: SQLiteStore) -> None:
        _, inbox = await _account(store)
        await store.deliver(message("indexed", body="kingfisher one\r\n"), [DeliveryTarget(inbox.id)])
        assert await store.search_text(inbox.id, "kingfisher", ("body",)) == {1}
        await store.deliver(message("waiting", body="kingfisher two\r\n"), [DeliveryTarget(inbox.id)])
        disk.free = 10 * MiB  # no room: the second message cannot be indexed
        with pytest.raises(StorageFull):
            await store.index_pending()
        assert await store.search_text(inbox.id, "kingfisher", ("body",)) == {1, 2}
        assert await store.search_text(inbox.id, "two", ("headers", "body")) == {2}
        assert (await store.index_backlog()).count == 1
        disk.free = 20 * MiB
        assert await store.search_text(inbox.id, "kingfisher two", ("body",)) == {2}
        assert (await store.index_backlog()).count == 0

    reserved_store(body)


def test_a_full_disk_met_anyway_is_storage_full_and_leaves_nothing_behind(reserved_store, monkeypatch):
    async def body(store: SQLiteStore) -> None:
        _, inbox = await _account(store)

        def no_space(name: str, data: bytes) -> Path:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(store.blobs, "write", no_space)
        with pytest.raises(StorageFull):
            await store.deliver(message("large", body=LARGE_BODY), [DeliveryTarget(inbox.id)])
        monkeypatch.undo()
        await store.deliver(message("small"), [DeliveryTarget(inbox.id)])  # the writer goes on
        assert [e.uid for e in await store.list_messages(inbox.id)] == [1]
        assert await store.find_problems() == []

    reserved_store(body)


def test_the_checkpointer_outlives_a_full_disk_to_the_end(monkeypatch):
    """It used to raise at shutdown (its last checkpoint ran outside the loop's try)."""
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = 13

    class FullDisk:
        def execute(self, _sql: str) -> None:
            raise full

        def close(self) -> None:
            pass

    died: list[object] = []
    monkeypatch.setattr(threading, "excepthook", died.append)
    monkeypatch.setattr(checkpoint, "INTERVAL_SECONDS", 0.01)
    checkpointer = checkpoint.Checkpointer(FullDisk)  # type: ignore[arg-type]
    time.sleep(0.05)
    checkpointer.close()
    assert died == []
