"""Open connections of every server process (``workers``), in one small file they all map.

Two uses:

- **The least busy process accepts.** Every process accepts on the same listening sockets, and the
  kernel wakes all of them for a new connection. Left alone, whichever process answers first wins,
  and that is the least busy one only by chance: in the 4 KB SMTP benchmark one process took 3,824
  transactions and the other 1,176. A socket per process (SO_REUSEPORT) spreads by a hash of the
  client's address and port instead, which evens out over thousands of clients but not over ten
  (a 7/3 split is as likely as 5/5). So a process with more open connections than another waits
  ``BALANCE_DEFER`` seconds before it accepts, and the less busy one takes the connection; if the
  connection still waits after that (that process is busy right now), it is accepted all the same.
- **Limits hold across processes.** A ``ConnectionLimiter`` (``net/limits.py``) adds the other
  processes' counts to its own: named counters exactly (a listener's connections, its logged-in
  ones), and per key (a client address, a user at an address) by a hash bucket of the key; two keys
  sharing a bucket count together there, which can only refuse early, and rarely (16,384 buckets).

Layout: one row per process, 8 bytes a number: the process's total, its named counters, then its
buckets. Each process writes only its own row; reads of the others' may be a moment old, which costs
at worst one connection.

The file is mapped, so its blocks must exist before anyone writes through the map: a write to a hole
that the file system cannot fill (the disk is full) is not an error code but SIGBUS, which kills the
process. The primary therefore allocates the whole file (``posix_fallocate``) before mapping it and
stops with one line when it cannot.
"""

from __future__ import annotations

import mmap
import os
import zlib
from pathlib import Path

from pillarbox.errors import PillarboxError

BALANCE_DEFER = 0.005
BUCKETS = 16384
ABSENT = 1 << 62
"""The total of a process that is not running (not started yet, or being restarted): never the
least busy one, so nobody waits for it; its counts are zero."""


class BoardUnavailable(PillarboxError):
    """The shared file cannot be made (disk full, read-only data_dir...)."""


class LoadBoard:
    """The primary (``me`` = 0) makes the board: every other row ``ABSENT`` until that worker starts
    and zeroes its own. ``counters``: how many named counters each row has (``add``/``others``)."""

    def __init__(self, path: Path, processes: int, me: int, counters: int = 0) -> None:
        self._row = 1 + counters + BUCKETS
        self._counters = counters
        size = processes * self._row * 8
        self._map = _map_file(path, size, fresh=me == 0)
        self._counts = memoryview(self._map).cast("q")
        self._processes = processes
        self._me = me
        if me == 0:
            for index in range(1, processes):
                self.mark_absent(index)
        self._reset(me, 0)

    def add(self, counter: int, delta: int) -> None:
        """Named counter ``counter`` of this process moves by ``delta``."""
        self._counts[self._me * self._row + 1 + counter] += delta

    def add_key(self, key: str, delta: int) -> None:
        """The count of ``key`` (e.g. ``"smtp|192.0.2.1"``) in this process moves by ``delta``."""
        self._counts[self._me * self._row + self._bucket(key)] += delta

    def add_total(self, delta: int) -> None:
        """This process's open connections, the number that decides who accepts next."""
        self._counts[self._me * self._row] += delta

    def others(self, counter: int) -> int:
        """Named counter ``counter``, added up over the other running processes."""
        return self._sum_others(1 + counter)

    def others_key(self, key: str) -> int:
        """The count of ``key`` in the other running processes (its bucket's, to be exact)."""
        return self._sum_others(self._bucket(key))

    def totals(self) -> list[int]:
        return [self._counts[index * self._row] for index in range(self._processes)]

    def busier_than_another(self) -> bool:
        """Does another process have fewer open connections than this one?"""
        totals = self.totals()
        mine = totals[self._me]
        return mine > 0 and mine > min(totals)

    def mark_absent(self, index: int) -> None:
        """Worker ``index`` is not running (the primary calls this when one dies): nobody waits for
        it, and its connections are gone."""
        self._reset(index, ABSENT)

    def _sum_others(self, column: int) -> int:
        found = 0
        for index in range(self._processes):
            if index != self._me and self._counts[index * self._row] != ABSENT:
                found += self._counts[index * self._row + column]
        return found

    def _bucket(self, key: str) -> int:
        # crc32 is the same in every process (hash() is not)
        return 1 + self._counters + zlib.crc32(key.encode()) % BUCKETS

    def _reset(self, index: int, total: int) -> None:
        row = index * self._row
        self._map[(row + 1) * 8:(row + self._row) * 8] = bytes((self._row - 1) * 8)
        self._counts[row] = total


def _map_file(path: Path, size: int, fresh: bool) -> mmap.mmap:
    """Map ``size`` bytes of ``path``, every block of them allocated on disk (see the module essay)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise BoardUnavailable(f"cannot open {path}: {exc.strerror}") from exc
    try:
        if fresh:
            os.ftruncate(fd, 0)  # a fresh board, also when the number of processes changed
        os.posix_fallocate(fd, 0, size)
        return mmap.mmap(fd, size)
    except OSError as exc:
        raise BoardUnavailable(
            f"cannot allocate {size} bytes for {path} (the workers' shared connection counts): {exc.strerror}"
        ) from exc
    finally:
        os.close(fd)
