"""POP3 maildrop locks of a SQLite data_dir: an flock(2) per account, so every server process on the
data_dir (``workers``) sees them (``store.api.MaildropLocks``)."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from pathlib import Path

from pillarbox.store.files import make_private_dirs
from pillarbox.store.reserve import is_disk_full, storage_full


class FileMaildropLocks:
    """Which accounts have a POP3 session in TRANSACTION state, and when each last logged in, for
    every server process on the data_dir (``workers``): a session holds an exclusive flock(2) of
    ``<account id>.lock`` in ``directory`` (the kernel drops it when the process dies, so a crash
    leaves no stale lock), and the file's modification time is the account's last login."""

    def __init__(self, directory: Path, clock: Callable[[], float] = time.time) -> None:
        self._directory = directory
        self._clock = clock
        self._held: dict[int, int] = {}  # account id -> the locked file descriptor

    async def acquire(self, account_id: int) -> bool:
        if account_id in self._held:
            return False
        try:
            make_private_dirs(self._directory)
            fd = os.open(self._path(account_id), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:  # a full disk has no room for a new lock file: -ERR [SYS/TEMP], not a hang-up
            if is_disk_full(exc):
                raise storage_full(exc) from exc
            raise
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False  # a session in this process or another one holds it
        now = self._clock()
        os.utime(fd, (now, now))
        self._held[account_id] = fd
        return True

    def release(self, account_id: int) -> None:
        fd = self._held.pop(account_id, None)
        if fd is not None:
            os.close(fd)  # and with it the lock

    def close(self) -> None:
        """Let go of every lock (as the process's exit would)."""
        for account_id in list(self._held):
            self.release(account_id)

    async def too_soon(self, account_id: int, login_delay: int) -> bool:
        """RFC 2449 6.5: fewer than ``login_delay`` seconds since the last successful login."""
        if login_delay <= 0:
            return False
        try:
            last = os.stat(self._path(account_id)).st_mtime
        except FileNotFoundError:
            return False
        return self._clock() - last < login_delay

    def _path(self, account_id: int) -> Path:
        return self._directory / f"{account_id}.lock"
