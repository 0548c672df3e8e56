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
- **Limits hold across processes.** ``ConnectionLimiter`` adds the other processes' connections to
  its own: their totals exactly, and per client by a hash bucket of the client's address (two
  clients sharing a bucket count together there, which can only refuse early, and rarely: 4,096
  buckets).

Layout: one row per process, its total then its per-bucket counts, 8 bytes each. Each process writes
only its own row; reads of the others' may be a moment old, which costs at worst one connection.
"""

from __future__ import annotations

import mmap
import os
import zlib
from pathlib import Path

BALANCE_DEFER = 0.005
BUCKETS = 4096
_ROW = 1 + BUCKETS
ABSENT = 1 << 62
"""The total of a process that is not running (not started yet, or being restarted): never the
least busy one, so nobody waits for it; its buckets are zero."""


class LoadBoard:
    """The primary (``me`` = 0) makes the board: every other row ``ABSENT`` until that worker starts
    and zeroes its own."""

    def __init__(self, path: Path, processes: int, me: int) -> None:
        size = processes * _ROW * 8
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if me == 0:
                os.ftruncate(fd, 0)  # a fresh board, also when the number of processes changed
            os.ftruncate(fd, size)
            self._map = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        self._counts = memoryview(self._map).cast("q")
        self._processes = processes
        self._me = me
        if me == 0:
            for index in range(1, processes):
                self.mark_absent(index)
        self._reset(me, 0)

    def opened(self, client: str) -> None:
        """A connection from ``client`` (the limiter's key: an IP address, or an IPv6 prefix) opened here."""
        self._add(client, 1)

    def closed(self, client: str) -> None:
        self._add(client, -1)

    def others(self, client: str) -> tuple[int, int]:
        """Open connections of the other running processes: in all, and from ``client``'s bucket."""
        bucket = 1 + _bucket(client)
        total = from_client = 0
        for index in range(self._processes):
            if index != self._me and (count := self._counts[index * _ROW]) != ABSENT:
                total += count
                from_client += self._counts[index * _ROW + bucket]
        return total, from_client

    def totals(self) -> list[int]:
        return [self._counts[index * _ROW] for index in range(self._processes)]

    def busier_than_another(self) -> bool:
        """Does another process have fewer open connections than this one?"""
        totals = self.totals()
        mine = totals[self._me]
        return mine > 0 and mine > min(totals)

    def mark_absent(self, index: int) -> None:
        """Worker ``index`` is not running (the primary calls this when one dies): nobody waits for
        it, and its connections are gone."""
        self._reset(index, ABSENT)

    def _add(self, client: str, delta: int) -> None:
        row = self._me * _ROW
        self._counts[row] += delta
        self._counts[row + 1 + _bucket(client)] += delta

    def _reset(self, index: int, total: int) -> None:
        row = index * _ROW
        self._map[(row + 1) * 8:(row + _ROW) * 8] = bytes(BUCKETS * 8)
        self._counts[row] = total


def _bucket(client: str) -> int:
    return zlib.crc32(client.encode()) % BUCKETS  # the same in every process (hash() is not)
