"""Free space kept in reserve, so the store can always commit what it has already acknowledged.

When a disk fills, the writes that fail first must be new mail, which the sender can retry later
(SMTP 452 4.3.1, IMAP NO [UNAVAILABLE]), never the writes that follow from mail already accepted:
flag changes, expunges, POP3 deletes, the queue's delivery state, WAL checkpoints. So new mail
(deliveries, APPEND, imports) and the search index are refused while the data_dir's file system has
less than ``min_free_space`` free after them; everything else may use the reserve. The check is made
by the one writer per process just before it writes a batch, for the sum of that batch's new bytes;
another process's batch can slip in between, which the reserve absorbs. When a disk fills all the
same (another program wrote to it), the errors are translated (``is_disk_full``) into the same
refusal, and the store goes on once space returns: nothing to restart.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from pillarbox.errors import StorageFull

_SQLITE_FULL = 13  # "database or disk is full" (sqlite3.h)
_DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def free_bytes(path: Path) -> int:
    """Bytes an unprivileged process may still write on ``path``'s file system."""
    found = os.statvfs(path)
    return found.f_bavail * found.f_frsize


def is_disk_full(exc: BaseException) -> bool:
    """True for the errors a full disk (or a file-system quota) makes: ENOSPC, EDQUOT, SQLITE_FULL."""
    if isinstance(exc, OSError):
        return exc.errno in _DISK_FULL_ERRNOS
    return isinstance(exc, sqlite3.Error) and getattr(exc, "sqlite_errorcode", None) == _SQLITE_FULL


def storage_full(exc: BaseException | None = None) -> StorageFull:
    detail = f" ({exc})" if exc is not None else ""
    return StorageFull(f"insufficient storage, try again later{detail}")


class DiskReserve:
    def __init__(self, path: Path, min_free: int, free: Callable[[Path], int] = free_bytes) -> None:
        self.path = path
        self.min_free = min_free
        self._free = free

    def room(self) -> int:
        """Bytes of new mail that still fit above the reserve (negative: already below it)."""
        return self._free(self.path) - self.min_free

    def has_room(self, incoming: int) -> bool:
        return self.admit([incoming])[0]

    def admit(self, sizes: list[int]) -> list[bool]:
        """Which of these pieces of new mail, in order, fit above the reserve together (a later small one
        may still fit after a large one was refused)."""
        room = self.room()
        admitted = []
        for size in sizes:
            fits = size <= room if size else room > 0
            admitted.append(fits)
            room -= size if fits else 0
        return admitted
