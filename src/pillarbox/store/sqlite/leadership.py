"""Leaders of singleton jobs on a SQLite data_dir (``store.api.Leadership``): an flock(2) of
``<job>.lock`` held by the process that runs the job. One server runs per data_dir (its serve lock), so
that is nearly always the server itself; the lock keeps it right where two run on one data_dir, and the
kernel drops it when the holder dies."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from pillarbox.store.files import make_private_dirs


class FileLeadership:
    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._held: dict[str, int] = {}  # job -> the locked file descriptor

    async def hold(self, job: str) -> bool:
        if job in self._held:
            return True
        make_private_dirs(self._directory)
        fd = os.open(self._directory / f"{job}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._held[job] = fd
        return True

    def close(self) -> None:
        """Let go of every job (as the process's exit would)."""
        for fd in self._held.values():
            os.close(fd)
        self._held.clear()
