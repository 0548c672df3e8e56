"""Spreading connections over the server processes (``workers``): the least busy one accepts.

Every process accepts on the same listening sockets, and the kernel wakes all of them for a new
connection. Left alone, whichever process answers first wins, and that is the least busy one only
by chance: in the 4 KB SMTP benchmark one process took 3,824 transactions and the other 1,176. A
socket per process (SO_REUSEPORT) spreads by a hash of the client's address and port instead, which
evens out over thousands of clients but not over ten (a 7/3 split is as likely as 5/5).

So each process counts its open connections in its slot of a small file that every process maps
(``LoadBoard``). A process with more connections than another waits ``BALANCE_DEFER`` seconds before
it accepts, so the less busy one takes the connection; if the connection still waits after that
(that process is busy right now), it is accepted all the same.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path

BALANCE_DEFER = 0.005
ABSENT = 1 << 62
"""The count of a process that is not running (not started yet, or being restarted): never the
least busy one, so nobody waits for it."""


class LoadBoard:
    """Open connections per server process, one 8-byte slot each, in a file every process maps.

    The primary (``me`` = 0) makes the board: its own slot 0, every other ``ABSENT`` until that
    worker starts and zeroes its own. Each process writes only its own slot; reads of the others'
    may be a moment old, which costs at worst one connection on the busier side.
    """

    def __init__(self, path: Path, processes: int, me: int) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if me == 0:
                os.ftruncate(fd, 0)  # a fresh board, also when the number of processes changed
            os.ftruncate(fd, processes * 8)
            self._map = mmap.mmap(fd, processes * 8)
        finally:
            os.close(fd)
        self._counts = memoryview(self._map).cast("q")
        self._me = me
        if me == 0:
            for index in range(1, processes):
                self._counts[index] = ABSENT
        self._counts[me] = 0

    def opened(self) -> None:
        self._counts[self._me] += 1

    def closed(self) -> None:
        self._counts[self._me] -= 1

    def busier_than_another(self) -> bool:
        """Does another process have fewer open connections than this one?"""
        mine = self._counts[self._me]
        return mine > 0 and mine > min(self._counts)

    def mark_absent(self, index: int) -> None:
        """Worker ``index`` died (the primary calls this): nobody should wait for it to accept."""
        self._counts[index] = ABSENT

    def counts(self) -> list[int]:
        return list(self._counts)
