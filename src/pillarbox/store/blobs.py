"""Immutable message bodies in a content-addressed folder, with one filesystem sync per batch.

A message's bytes are written once, named by their SHA-256, and never changed (principle 4). The
durability rule is simple: a blob must be on disk before any committed row names it. The naive way
fsyncs every file, which costs one disk flush per message; instead the group-commit writer writes all
the blobs of a batch, then flushes the filesystem once with syncfs(2) (one flush for the whole batch,
falling back to per-file fsync where syncfs is missing), and only then commits the rows.

A blob file can exist without a row (a crash after the write, before the commit). Such an orphan is
harmless but untrustworthy: it may have been cut short by the crash, so an existing file is only
reused when the caller knows a committed row already vouches for it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import hashlib
import os
from pathlib import Path

from pillarbox.store.files import PRIVATE_FILE, make_private_dirs

_libc_name = ctypes.util.find_library("c")
_libc = ctypes.CDLL(_libc_name, use_errno=True) if _libc_name else None
_syncfs = getattr(_libc, "syncfs", None) if _libc is not None else None


def blob_name(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        make_private_dirs(root)
        self._made: set[Path] = set()  # fan-out folders known to exist (a mkdir per blob was measurable)

    def path(self, name: str) -> Path:
        return self.root / name[:2] / name[2:4] / name

    def read(self, name: str) -> bytes:
        return self.path(name).read_bytes()

    def write(self, name: str, data: bytes) -> Path:
        """Write without flushing; ``sync`` must follow before any row names the blob."""
        final = self.path(name)
        if final.parent not in self._made:
            make_private_dirs(final.parent)
            self._made.add(final.parent)
        tmp = final.with_name(f"{name}.{os.getpid()}.tmp")
        try:
            with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE), "wb") as f:
                f.write(data)
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a full disk must not leave half a file behind
            raise
        return final

    def sync(self, written: list[Path]) -> None:
        """Make every written blob (data and directory entries) durable, at the cost of one flush."""
        if not written:
            return
        if _syncfs is not None:
            fd = os.open(self.root, os.O_RDONLY)
            try:
                if _syncfs(fd) == 0:
                    return
            finally:
                os.close(fd)
        for path in written:
            fsync_path(path)
            fsync_path(path.parent)

    def unlink(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(name).unlink()


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
