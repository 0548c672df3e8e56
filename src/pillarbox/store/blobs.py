"""Immutable message bodies in a content-addressed folder, flushed file by file before their rows commit.

A message's bytes are written once, named by their SHA-256, and never changed (principle 4). The
durability rule is simple: a blob must be on disk before any committed row names it. The group-commit
writer writes all the blobs of a batch, then fdatasyncs each file and fsyncs each folder that gained
an entry (its own, and the parents of fan-out folders created for it), and only then commits the rows.
Only bodies above the in-database size are files (``prepare.py``), so this is rare and per file.
syncfs(2), used before, flushed the whole file system: every other program's dirty data on it too.

A blob file can exist without a row (a crash after the write, before the commit). Such an orphan is
harmless but untrustworthy: it may have been cut short by the crash, so an existing file is only
reused when the caller knows a committed row already vouches for it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

from pillarbox.store.files import PRIVATE_FILE, make_private_dirs


def blob_name(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        make_private_dirs(root)
        self._made: set[Path] = set()  # fan-out folders known to exist (a mkdir per blob was measurable)
        self._grown: set[Path] = set()  # folders that gained a fan-out folder not yet flushed

    def path(self, name: str) -> Path:
        return self.root / name[:2] / name[2:4] / name

    def read(self, name: str) -> bytes:
        return self.path(name).read_bytes()

    def write(self, name: str, data: bytes) -> Path:
        """Write without flushing; ``sync`` must follow before any row names the blob."""
        final = self.path(name)
        if final.parent not in self._made:
            self._make_folders(final.parent)
        tmp = final.with_name(f"{name}.{os.getpid()}.tmp")
        try:
            with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE), "wb") as f:
                f.write(data)
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a full disk must not leave half a file behind
            raise
        return final

    def _make_folders(self, folder: Path) -> None:
        make_private_dirs(folder)
        # the names of root/ab and root/ab/cd: made here, or by another process that may not have
        # flushed them yet, so flushed once by this one too
        self._grown.update((folder.parent.parent, folder.parent))
        self._made.add(folder)

    def sync(self, written: list[Path]) -> None:
        """Make every written blob durable: its bytes, its name, and the names of folders made for it."""
        for path in written:
            fsync_path(path, data_only=True)
        folders = {path.parent for path in written} | self._grown
        for folder in sorted(folders, key=lambda f: len(f.parts), reverse=True):
            fsync_path(folder)
        self._grown -= folders

    def unlink(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(name).unlink()


def fsync_path(path: Path, data_only: bool = False) -> None:
    """fsync(2) a file or folder by name; ``data_only``: fdatasync(2), what a file's contents need."""
    fd = os.open(path, os.O_RDONLY)
    try:
        (os.fdatasync if data_only else os.fsync)(fd)
    finally:
        os.close(fd)
