"""POP3 maildrop locks of a SQLite data_dir: an flock(2) per account, so every server process on the
data_dir (``workers``) sees them (``store.api.MaildropLocks``)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from pillarbox.store.reserve import is_disk_full, storage_full
from pillarbox.store.sqlite.file_locks import FileLocks


class FileMaildropLocks:
    """Which accounts have a POP3 session in TRANSACTION state, and when each last logged in, for
    every server process on the data_dir (``workers``): a session holds an exclusive flock(2) of
    ``<account id>.lock`` in ``directory`` (the kernel drops it when the process dies, so a crash
    leaves no stale lock), and the file's modification time is the account's last login."""

    def __init__(self, directory: Path, clock: Callable[[], float] = time.time) -> None:
        self._locks = FileLocks(directory)
        self._clock = clock

    async def acquire(self, account_id: int) -> bool:
        name = str(account_id)
        if self._locks.holds(name):
            return False
        try:
            if not self._locks.try_lock(name):
                return False  # a session in this process or another one holds it
        except OSError as exc:  # a full disk has no room for a new lock file: -ERR [SYS/TEMP], not a hang-up
            if is_disk_full(exc):
                raise storage_full(exc) from exc
            raise
        now = self._clock()
        os.utime(self._locks.path(name), (now, now))
        return True

    def release(self, account_id: int) -> None:
        self._locks.unlock(str(account_id))

    def close(self) -> None:
        """Let go of every lock (as the process's exit would)."""
        self._locks.close()

    async def too_soon(self, account_id: int, login_delay: int) -> bool:
        """RFC 2449 6.5: fewer than ``login_delay`` seconds since the last successful login."""
        if login_delay <= 0:
            return False
        try:
            last = os.stat(self._locks.path(str(account_id))).st_mtime
        except FileNotFoundError:
            return False
        return self._clock() - last < login_delay
