"""Telling the other processes on the same data_dir that a commit happened, at once.

Each process whose change feed runs (a server process with IMAP IDLE, NOTIFY or POP3 sessions
waiting) listens on a datagram socket and leaves a file named after it (pid.n) in ``data_dir/wake``;
every process that commits (the servers, the admin CLI) sends one empty datagram to each of the
others after the commit. Their feeds then look at once instead of at their next poll
(``feed.POLL_INTERVAL``), which stays as the safety net: a lost datagram only delays a wake-up.

The sockets live in Linux's abstract namespace, named from the data_dir and that name: a path in
data_dir could pass the 108-byte limit of a socket address, and nothing is left on disk but the
marker files, which a sender removes when nobody listens behind one any more.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

from pillarbox.store.files import PRIVATE_FILE, make_private_dirs

_instances = itertools.count()
LISTING_TTL = 1.0  # seconds a listing of the markers is reused: a new process is heard from within it


class CommitWakeup:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._tag = hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:16]
        self._name = f"{os.getpid()}.{next(_instances)}"  # a process may open the store twice (tests)
        self._sender: socket.socket | None = None
        self._receiver: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._peers: list[str] = []
        self._listed_at = -LISTING_TTL

    def listen(self, loop: asyncio.AbstractEventLoop, on_signal: Callable[[], None]) -> None:
        """Listen, and call ``on_signal`` (on ``loop``) whenever another process commits."""
        receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            receiver.bind(self._address(self._name))
            make_private_dirs(self.directory)
            (self.directory / self._name).touch(mode=PRIVATE_FILE)
        except OSError:
            receiver.close()
            return  # the poll still finds other processes' commits
        receiver.setblocking(False)

        def drain() -> None:
            with contextlib.suppress(OSError):
                while True:
                    receiver.recv(16)
            on_signal()

        loop.add_reader(receiver.fileno(), drain)
        self._receiver, self._loop = receiver, loop

    def notify_others(self) -> None:
        """After a commit (from the writer thread): one datagram to every other listening process."""
        if self._sender is None:
            self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sender.setblocking(False)
        for name in self._listing():
            try:
                self._sender.sendto(b"", self._address(name))
            except ConnectionRefusedError:
                with contextlib.suppress(OSError):
                    (self.directory / name).unlink()  # its process is gone
            except OSError:
                continue  # its queue is full: it has wake-ups pending anyway

    def close(self) -> None:
        if self._receiver is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(self._receiver.fileno())
            with contextlib.suppress(OSError):
                (self.directory / self._name).unlink()
        for sock in (self._sender, self._receiver):
            if sock is not None:
                sock.close()
        self._sender = self._receiver = None

    def _address(self, name: str) -> bytes:
        return f"\0pillarbox-wake-{self._tag}-{name}".encode()

    def _listing(self) -> list[str]:
        now = time.monotonic()
        if now - self._listed_at >= LISTING_TTL:
            self._listed_at = now
            try:
                self._peers = [p.name for p in self.directory.iterdir() if p.name != self._name]
            except OSError:
                self._peers = []
        return self._peers
