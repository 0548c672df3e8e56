"""Locks of a SQLite data_dir that every server process on it sees: an flock(2) of ``<name>.lock`` in
a folder of the data_dir, dropped by the kernel when the holder dies (no stale lock).

- POP3 maildrops (``maildrop_locks.py``, in ``data_dir/pop3``).

In ``data_dir/locks``:

- Leaders of singleton jobs (``store.api.Leadership``). One server runs per data_dir (its serve lock), so
  that is nearly always the server itself; the lock keeps it right where two run on one data_dir.
- Delivery slots per destination domain (``store.api.DestinationSlots``), ``[queue] per_domain`` of them.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path

from pillarbox.store.files import make_private_dirs


class FileLocks:
    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._held: dict[str, int] = {}  # name -> the locked file descriptor

    def holds(self, name: str) -> bool:
        return name in self._held

    def path(self, name: str) -> Path:
        return self._directory / f"{name}.lock"

    def try_lock(self, name: str) -> bool:
        """True when this process holds ``name`` now (taken, or held already)."""
        if name in self._held:
            return True
        make_private_dirs(self._directory)
        fd = os.open(self.path(name), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._held[name] = fd
        return True

    def unlock(self, name: str) -> None:
        fd = self._held.pop(name, None)
        if fd is not None:
            os.close(fd)  # and with it the lock

    def close(self) -> None:
        """Let go of every lock (as the process's exit would)."""
        for name in list(self._held):
            self.unlock(name)


class FileLeadership:
    def __init__(self, locks: FileLocks) -> None:
        self._locks = locks

    async def hold(self, job: str) -> bool:
        return self._locks.try_lock(f"leader-{job}")


class FileDestinationSlots:
    def __init__(self, locks: FileLocks) -> None:
        self._locks = locks

    async def take(self, domain: str, limit: int) -> int | None:
        for slot in range(limit):
            name = _slot_name(domain, slot)
            if not self._locks.holds(name) and self._locks.try_lock(name):
                return slot
        return None

    async def release(self, domain: str, slot: int) -> None:
        self._locks.unlock(_slot_name(domain, slot))


def _slot_name(domain: str, slot: int) -> str:
    """A file name for any domain (an IDN, a hostile one): its digest."""
    return f"destination-{hashlib.sha256(domain.encode()).hexdigest()[:32]}-{slot}"
