"""The data_dir as a whole: does it hold a store, and which one server owns it.

Two rules keep an install from silently splitting in two. An admin command never creates a store: a
command run with the wrong configuration (or none) would otherwise make a new, empty one somewhere and
report success; it says which data_dir it looked at instead. And one ``serve`` per data_dir: a second one
would bind what it can, run a second queue runner and a second checkpointer against the same files. The
primary holds an exclusive flock(2) of ``data_dir/serve.lock`` for its whole life (the kernel drops it
when the process dies, however it dies); its workers never take it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from pillarbox.errors import StoreError

DATABASE_NAME = "pillarbox.sqlite3"
SERVE_LOCK_NAME = "serve.lock"


class NoStore(StoreError):
    """The data_dir holds no store (the message names it)."""


class DataDirInUse(StoreError):
    """Another ``pillarbox serve`` runs on this data_dir."""


def has_store(data_dir: Path) -> bool:
    return (Path(data_dir) / DATABASE_NAME).is_file()


def require_store(data_dir: Path) -> None:
    """Refuse (``NoStore``, one line naming the folder) unless ``data_dir`` holds a store."""
    if not has_store(data_dir):
        raise NoStore(f"no Pillarbox store in {data_dir} (the data_dir of this configuration); "
                      "start `pillarbox serve` or run `pillarbox quickstart` first, or pick the right file "
                      "with --config")


def act_as_owner(data_dir: Path) -> None:
    """Run as root on a data_dir the service user owns (``quickstart --systemd``), become that user:
    what an admin command creates there (message files, locks) must stay the server's to write."""
    if os.geteuid() != 0 or not Path(data_dir).is_dir():
        return
    owner = Path(data_dir).stat()
    if owner.st_uid == 0:
        return
    os.setgroups([])
    os.setgid(owner.st_gid)
    os.setuid(owner.st_uid)


def give_to_owner(data_dir: Path) -> None:
    """After root wrote into a data_dir another user owns (``restore``), hand every file to that user."""
    owner = Path(data_dir).stat()
    if os.geteuid() != 0 or owner.st_uid == 0:
        return
    for folder, _dirs, files in os.walk(data_dir):
        for path in (folder, *(os.path.join(folder, name) for name in files)):
            os.chown(path, owner.st_uid, owner.st_gid)


class ServeLock:
    """The primary server's claim on a data_dir; ``release()`` (or the process ending) gives it up."""

    def __init__(self, data_dir: Path) -> None:
        Path(data_dir).mkdir(parents=True, exist_ok=True, mode=0o700)
        path = Path(data_dir) / SERVE_LOCK_NAME
        self._fd: int | None = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 32, 0).decode(errors="replace").strip()
            self.release()
            raise DataDirInUse(f"another pillarbox serve{f' (pid {holder})' if holder else ''} already runs on "
                               f"{data_dir}; stop it first") from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
