"""Large bodies are flushed file by file (fdatasync of the file, fsync of the folders that gained a
name), never with syncfs(2), which flushed every dirty page of the whole file system."""

from __future__ import annotations

import os
from pathlib import Path

from pillarbox.store import blobs
from pillarbox.store.records import DeliveryTarget
from pillarbox.store.sqlite.store import SQLiteStore


def _record_flushes(monkeypatch) -> list[tuple[str, str]]:
    flushed: list[tuple[str, str]] = []
    opened: dict[int, str] = {}
    real_open = os.open

    def tracking_open(path, flags, *args):
        fd = real_open(path, flags, *args)
        opened[fd] = str(path)
        return fd

    monkeypatch.setattr(blobs.os, "open", tracking_open)
    monkeypatch.setattr(blobs.os, "fdatasync", lambda fd: flushed.append(("fdatasync", opened[fd])))
    monkeypatch.setattr(blobs.os, "fsync", lambda fd: flushed.append(("fsync", opened[fd])))
    return flushed


def test_a_large_body_is_flushed_with_its_folders_and_nothing_else(tmp_path: Path, run, monkeypatch):
    flushed = _record_flushes(monkeypatch)
    large = b"Subject: big\r\n\r\n" + (b"y" * 78 + b"\r\n") * 3000  # 240 KB: above the in-database size

    async def scenario() -> Path:
        store = SQLiteStore.open(tmp_path)
        try:
            await store.add_domain("example.com")
            account = await store.add_account("bob@example.com", "hash", None)
            inbox = await store.get_mailbox(account.id, "INBOX")
            flushed.clear()
            await store.deliver(large, [DeliveryTarget(inbox.id)])
            return store.blobs.path(blobs.blob_name(large))
        finally:
            await store.close()

    path = run(scenario())
    assert path.read_bytes() == large
    assert flushed == [
        ("fdatasync", str(path)),
        ("fsync", str(path.parent)),  # root/ab/cd: the file's name
        ("fsync", str(path.parent.parent)),  # root/ab: cd's name
        ("fsync", str(path.parent.parent.parent)),  # root: ab's name
    ]


def test_folders_once_flushed_are_not_flushed_again(tmp_path: Path, monkeypatch):
    flushed = _record_flushes(monkeypatch)
    store = blobs.BlobStore(tmp_path / "blobs")
    first = store.write("abcd" + "0" * 60, b"one")
    store.sync([first])
    flushed.clear()
    second = store.write("abcd" + "1" * 60, b"two")  # the same fan-out folder
    store.sync([second])
    assert flushed == [("fdatasync", str(second)), ("fsync", str(second.parent))]
