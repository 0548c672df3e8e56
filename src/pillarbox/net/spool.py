"""Where a message body goes while it arrives: its first part in memory, the rest in a file.

The problem: a body (SMTP DATA or BDAT, an IMAP APPEND literal) may be 50 MB, and it arrives before
anything is decided about it. Kept in memory as it comes, ten clients that start a 50 MB message and
never finish it hold 500 MB of the server, and cost nothing themselves.

What we do: a ``Spool`` keeps the first ``in_memory`` bytes of a body in memory and writes the rest
to a file under ``data_dir/spool``. The file has no name (``O_TMPFILE``, or created and unlinked at
once where that is missing), mode 0600: it vanishes when closed or when the process dies, and a
start-up sweep removes whatever the fallback left in a crash. A body that is complete is read back
whole for delivery (the store takes bytes).

The process's memory for bodies (``SpoolArea``'s ``memory``) is split in two ``MemoryBudget``s. The
heads of bodies still arriving take from one half, as long as it lasts (then they go to the file from
their first byte), so strangers who start messages and stall can never take the other half: the
bodies being delivered. Each of those holds its size of that half (at most all of it) while it is in
memory, waiting its turn when the half is taken, so however many bodies arrive at once the ones in
memory together stay within the budget. (Delivery works on a few copies of a body: adding a header,
signing; the real use is a small multiple of what is counted.)

Disk full while spooling is not an error of the peer: ``write`` remembers the failure, the protocol
reads the body to its end as usual, and ``contents`` raises ``SpoolError`` so that the session answers
with its "insufficient storage" reply.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import IO

from pillarbox.errors import PillarboxError

SPOOL_DIR = "spool"
IN_MEMORY = 128 * 1024  # as much as the store keeps in its database rather than in a blob file
READ_IN_THREAD = 1024 * 1024  # a longer read back would hold the event loop for milliseconds


class SpoolError(PillarboxError):
    """The body could not be kept (disk full...): the session refuses it with a temporary error."""


class MemoryBudget:
    """Bytes of bodies a process may hold in memory at once; waiters are served in order."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()

    def try_take(self, octets: int) -> bool:
        if self._waiting or self.used + octets > self.limit:
            return False
        self.used += octets
        return True

    def give_back(self, octets: int) -> None:
        self.used -= octets
        while self._waiting and self._fits(self._waiting[0][0]):
            octets, waiter = self._waiting.popleft()
            if not waiter.done():
                self.used += octets
                waiter.set_result(None)

    @asynccontextmanager
    async def hold(self, octets: int) -> AsyncIterator[None]:
        """Hold ``octets`` (at most the whole budget) for the block, waiting for them if need be."""
        octets = min(octets, self.limit)
        if not self._waiting and self._fits(octets):
            self.used += octets
        else:
            waiter = asyncio.get_running_loop().create_future()
            self._waiting.append((octets, waiter))
            try:
                await waiter
            except BaseException:
                self._forget(waiter, octets)
                raise
        try:
            yield
        finally:
            self.give_back(octets)

    def _fits(self, octets: int) -> bool:
        return self.used + octets <= self.limit

    def _forget(self, waiter: asyncio.Future[None], octets: int) -> None:
        """A waiter cancelled: out of the line, and what it was given in the meantime goes back."""
        if waiter.done() and not waiter.cancelled():
            self.give_back(octets)
        else:
            with suppress(ValueError):
                self._waiting.remove((octets, waiter))


class SpoolArea:
    """The spool directory and memory budget of one process; ``open()`` starts a body."""

    def __init__(self, directory: Path, memory: int, in_memory: int = IN_MEMORY) -> None:
        self.directory = directory
        self.heads = MemoryBudget(memory // 2)
        self.bodies = MemoryBudget(memory - memory // 2)
        self.in_memory = in_memory

    @classmethod
    def prepare(cls, data_dir: Path, memory: int, sweep: bool) -> SpoolArea:
        """Make ``data_dir/spool`` (0700); ``sweep``: remove what a crashed process left (at start)."""
        directory = data_dir / SPOOL_DIR
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        directory.chmod(0o700)  # also when an older one was made with other modes
        if sweep:
            for leftover in directory.iterdir():
                with suppress(OSError):
                    leftover.unlink()
        return cls(directory, memory)

    def open(self) -> Spool:
        return Spool(self)


class Spool:
    """One body on its way in (see the module essay). ``close()`` it when done, whatever happened."""

    def __init__(self, area: SpoolArea) -> None:
        self._area = area
        self._head = bytearray()
        self._file: IO[bytes] | None = None
        self.size = 0
        self.failure: OSError | None = None

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.failure is not None:
            return
        if self._file is None and self.size <= self._area.in_memory and self._area.heads.try_take(len(data)):
            self._head += data
            return
        try:
            self._to_file().write(data)
        except OSError as exc:
            self.failure = exc

    @asynccontextmanager
    async def contents(self) -> AsyncIterator[bytes]:
        """The whole body, held in memory (and charged to the budget) for the block."""
        async with self._area.bodies.hold(self.size):
            if self._file is None and self.failure is None:
                yield bytes(self._head)
                return
            if self.size > READ_IN_THREAD:
                yield await asyncio.to_thread(self._read_file)
            else:
                yield self._read_file()

    def close(self) -> None:
        self._drop_head()
        if self._file is not None:
            with suppress(OSError):  # a failed flush of a body nobody needs any more
                self._file.close()
            self._file = None

    def _to_file(self) -> IO[bytes]:
        if self._file is None:
            # mode 0600, never named for long; closed by close()
            self._file = tempfile.TemporaryFile(dir=self._area.directory)  # noqa: SIM115
            self._file.write(self._head)
            self._drop_head()
        return self._file

    def _drop_head(self) -> None:
        self._area.heads.give_back(len(self._head))
        self._head = bytearray()

    def _read_file(self) -> bytes:
        if self.failure is not None or self._file is None:
            raise SpoolError(f"spooling the body failed: {_reason(self.failure)}")
        try:
            self._file.flush()
            self._file.seek(0)
            data = self._file.read()
        except OSError as exc:
            raise SpoolError(f"spooling the body failed: {_reason(exc)}") from exc
        if len(data) != self.size:
            raise SpoolError(f"spooled {len(data)} of {self.size} bytes")
        return data


def _reason(exc: OSError | None) -> str:
    return (exc.strerror or str(exc)) if exc is not None else "unknown"

