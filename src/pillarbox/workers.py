"""More processes on the same listening sockets: how one Pillarbox uses more than one CPU.

Python runs one thread of Python at a time per process, so a single server process tops out at about
one core whatever the load. With ``workers = N`` the process started by ``pillarbox serve`` (the
primary) binds every listener as usual, then starts N - 1 worker processes that inherit the protocol
sockets (not the HTTP one) and accept on them too. The process with the fewest open connections
takes the next one (``net/balance.py``). Everything shared lives in the store, which several
processes already share (the CLI does): SQLite serialises their commits, and a process that commits
wakes the others' change feeds at once (``store/sqlite/wakeup.py``: IMAP IDLE, NOTIFY, POP3 locks).

What stays with the primary: the outbound queue runner and the daily report tasks (one of each, so
nothing is sent twice), the search indexer and the WAL checkpoints (once is enough), the HTTP
listener (health and metrics), and supervision: a worker that dies
is started again, SIGHUP is passed on (certificate reload), SIGTERM stops the workers first. A worker
that queues mail tells the primary's runner with SIGUSR1, so submission stays immediate. A worker
whose primary vanishes (even by SIGKILL) sees its end of a pipe close and stops.

Shared by all processes: the connection limits (through the same mapped file, ``net/balance.py``),
the login throttle (its failures are in the store) and ``/metrics`` (each worker writes its counters
to a file every second, ``MetricsExport``, and the primary adds them to its own when scraped).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pillarbox.background import LoopingTask
from pillarbox.config import Config
from pillarbox.net.balance import LoadBoard
from pillarbox.obs import export_metrics, get_logger, log_event

log = get_logger("app")
RESTART_PAUSE = 1.0
QUEUE_POKE = signal.SIGUSR1
LOAD_BOARD = "workers.load"  # in data_dir: open connections per process (net/balance.py)


MAX_AUTO_WORKERS = 8  # each process holds about 55 MB when idle (its own caches grow with use)


def worker_count(config: Config) -> int:
    """``workers = 0`` (the default) means one process per CPU this process may run on, up to
    ``MAX_AUTO_WORKERS``: one process runs Python on one CPU at a time (the GIL), so on two CPUs one
    process delivered half of what two did; past eight, memory grows faster than mail moves."""
    if config.workers:
        return config.workers
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(cpus, MAX_AUTO_WORKERS)


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker process is handed on its command line: its number, the inherited listening
    sockets by ``[listen]`` key, and the read end of the pipe whose closing means the primary is gone."""

    index: int
    sockets: Mapping[str, Sequence[socket.socket]]
    parent_fd: int
    parent_pid: int

    @classmethod
    def from_args(cls, index: int, inherit: str, parent_fd: int) -> WorkerSetup:
        sockets: dict[str, list[socket.socket]] = {}
        for item in filter(None, inherit.split(";")):
            name, _, fds = item.partition("=")
            sockets[name] = [_adopt(int(fd)) for fd in fds.split(",")]
        return cls(index, sockets, parent_fd, os.getppid())

    def poke_primary_queue(self) -> None:
        """Mail was queued here: the primary's queue runner should look now, not at its next poll."""
        if os.getppid() == self.parent_pid:  # never signal whoever adopted us after the primary died
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.parent_pid, QUEUE_POKE)

    def watch_parent(self, on_gone: Callable[[], None]) -> None:
        os.set_blocking(self.parent_fd, False)
        asyncio.get_running_loop().add_reader(self.parent_fd, on_gone)  # EOF: the write end closed


METRICS_DIR = "metrics"  # in data_dir: each worker's counters, for the primary's /metrics
METRICS_INTERVAL = 1.0


class MetricsExport(LoopingTask):
    """A worker's side of ``/metrics``: its samples, written to a file of its own every second (and
    at stop), which the primary adds to its own when scraped (``worker_metrics``)."""

    name = "metrics-export"

    def __init__(self, data_dir: Path, index: int, interval: float = METRICS_INTERVAL) -> None:
        self._path = data_dir / METRICS_DIR / f"{index}.json"
        self._interval = interval

    async def start(self) -> None:
        self._path.parent.mkdir(exist_ok=True)
        self.write()
        await super().start()

    async def stop(self, grace: float = 10.0) -> None:
        await super().stop(grace)
        self.write()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            self.write()

    def write(self) -> None:
        temporary = self._path.with_suffix(".tmp")
        temporary.write_text(json.dumps(export_metrics()))
        temporary.replace(self._path)  # a scrape reads the old file or the new one, never half


def worker_metrics(data_dir: Path, count: int) -> list[dict[str, list[Any]]]:
    """What workers 1 .. count-1 last exported (a worker that has not written yet counts nothing)."""
    found = []
    for index in range(1, count):
        try:
            found.append(json.loads((data_dir / METRICS_DIR / f"{index}.json").read_text()))
        except (OSError, ValueError):
            continue
    return found


def _adopt(fd: int) -> socket.socket:
    sock = socket.socket(fileno=fd)
    sock.setblocking(False)
    return sock


class WorkerPool:
    """The primary's side: start the workers, restart the ones that die, signal and stop them."""

    def __init__(
        self, config: Config, sockets: Mapping[str, Sequence[socket.socket]], count: int, board: LoadBoard | None,
    ) -> None:
        self.config = config
        self.sockets = sockets
        self.count = count
        self.board = board
        self._processes: dict[int, asyncio.subprocess.Process] = {}
        self._supervisors: list[asyncio.Task[None]] = []
        self._stopping = False
        self._parent_read, self._parent_write = os.pipe()

    async def start(self) -> None:
        for index in range(1, self.count):
            await self._spawn(index)
            self._supervisors.append(asyncio.create_task(self._supervise(index), name=f"worker-{index}"))

    async def _spawn(self, index: int) -> None:
        fds = [sock.fileno() for socks in self.sockets.values() for sock in socks]
        inherit = ";".join(f"{name}={','.join(str(s.fileno()) for s in socks)}" for name, socks in self.sockets.items())
        command = [sys.executable, "-m", "pillarbox", "--log-level", self.config.log.level]
        if self.config.source is not None:
            command += ["--config", str(self.config.source)]
        command += ["serve", *(["--node", self.config.node] if self.config.node else []),
                    "--worker", str(index), "--inherit", inherit, "--parent-fd", str(self._parent_read)]
        process = await asyncio.create_subprocess_exec(
            *command, stdin=asyncio.subprocess.DEVNULL, pass_fds=[*fds, self._parent_read])
        self._processes[index] = process
        log_event(log, "info", "worker started", worker=index, pid=process.pid)

    async def _supervise(self, index: int) -> None:
        while True:
            status = await self._processes[index].wait()
            if self._stopping:
                return
            log_event(log, "error", "worker exited; starting it again", worker=index, status=status)
            if self.board is not None:
                self.board.mark_absent(index)  # until the new one starts, nobody leaves connections to it
            await asyncio.sleep(RESTART_PAUSE)
            if self._stopping:
                return
            await self._spawn(index)

    def signal(self, signum: int) -> None:
        for process in self._processes.values():
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signum)

    async def stop(self, grace: float) -> None:
        """SIGTERM every worker (each then stops like a server does) and wait; SIGKILL after ``grace``."""
        self._stopping = True
        self.signal(signal.SIGTERM)
        waits = [process.wait() for process in self._processes.values()]
        try:
            await asyncio.wait_for(asyncio.gather(*waits), grace + 2)
        except TimeoutError:
            self.signal(signal.SIGKILL)
            await asyncio.gather(*(process.wait() for process in self._processes.values()))
        for task in self._supervisors:
            task.cancel()
        await asyncio.gather(*self._supervisors, return_exceptions=True)
        os.close(self._parent_read)
        os.close(self._parent_write)
