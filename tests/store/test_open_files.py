"""A store leaves no SQLite file open behind it, and never drops the locks of another store's connections.

Both made a reader in another process miss mail the server had committed and acknowledged: a connection
left to the garbage collector (Python's statement cache keeps every connection in a reference cycle) kept
the WAL and -shm its process had opened, deleted and replaced since, and the process's later connections
read the stale WAL index through it; and a descriptor of the database opened and closed beside open
connections drops all of the process's POSIX locks on it (the SHARED lock that keeps the WAL in place).
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

from pillarbox.store.sqlite.store import SQLiteStore


def _open_database_files(data_dir: Path) -> list[str]:
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # the listing's own descriptor
        if target.startswith(str(data_dir / "pillarbox.sqlite3")):
            found.append(target)
    return found


def _posix_locks(path: Path) -> list[str]:
    """This process's POSIX locks on ``path``, without /proc/locks' ordinal (other processes' locks move it)."""
    inode = f":{path.stat().st_ino} "
    return [line.split(":", 1)[1] for line in Path("/proc/locks").read_text().splitlines()
            if "POSIX" in line and f" {os.getpid()} " in line and inode in line]


def test_a_closed_store_leaves_no_file_of_its_database_open(tmp_path: Path, run):
    async def scenario() -> None:
        store = SQLiteStore.open(tmp_path)
        await store.add_domain("example.com")
        await store.add_account("bob@example.com", "hash", None)
        assert await store.get_account("bob@example.com") is not None
        await store.close()

    gc.disable()  # what close() leaves open must not depend on when the collector runs
    try:
        run(scenario())
        assert _open_database_files(tmp_path) == []
    finally:
        gc.enable()


def test_opening_a_second_store_keeps_the_locks_of_the_first(tmp_path: Path, run):
    async def scenario() -> None:
        first = SQLiteStore.open(tmp_path)
        try:
            await first.add_domain("example.com")
            assert await first.has_domain("example.com")
            held = _posix_locks(tmp_path / "pillarbox.sqlite3")
            assert held  # the SHARED lock of a WAL-mode connection
            second = SQLiteStore.open(tmp_path)
            try:
                assert _posix_locks(tmp_path / "pillarbox.sqlite3") == held
            finally:
                await second.close()
        finally:
            await first.close()
    run(scenario())
