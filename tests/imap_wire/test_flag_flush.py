"""IMAP commands that only change flags wait for no disk flush of their own (store/sqlite/deferred.py):
the server is traced with strace(1) while a client STOREs, FETCHes BODY[] (which sets \\Seen) and
CLOSEs with nothing deleted. Before, each of those commits flushed the WAL once or twice."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.imap_wire.conftest import IMAPServer, start_imap_server

pytestmark = pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace (scripts/test.sh installs it)")
FLUSH = re.compile(r"^(\d+) +(fsync|fdatasync|syncfs)\(")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IMAPServer]:
    # a delay longer than the test: any flush seen is one a command waited for
    running = start_imap_server(tmp_path_factory.mktemp("flush"), extra="[store]\nflag_flush_delay = 60\n")
    yield running
    assert running.process.stop() == 0
    assert "Traceback" not in running.process.log()


class Flushes:
    """strace attached to every thread of the server, counting fsync-family calls."""

    def __init__(self, pid: int, log: Path) -> None:
        self.pid = pid
        self.log = log
        self.tracer = subprocess.Popen(
            ["strace", "-f", "-p", str(pid), "-e", "trace=fsync,fdatasync,syncfs", "-o", str(log)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert self.tracer.stderr is not None
        for line in self.tracer.stderr:  # "Process N attached" once per thread; the first is enough to start
            if b"attached" in line:
                break
        time.sleep(0.5)  # the other threads

    def stop(self) -> dict[str, int]:
        """Flushes by thread name (the store names its writer and checkpointer threads)."""
        self.tracer.send_signal(signal.SIGINT)  # detaches; the server runs on
        self.tracer.wait(30)
        counts: dict[str, int] = {}
        for line in self.log.read_text().splitlines():
            if found := FLUSH.match(line):
                comm = Path(f"/proc/{self.pid}/task/{found.group(1)}/comm").read_text().strip()
                counts[comm] = counts.get(comm, 0) + 1
        return counts


def test_flag_changes_are_not_flushed_one_by_one(server: IMAPServer, tmp_path: Path):
    client = server.login()
    try:
        for n in range(6):
            assert client.append("INBOX", None, None, f"Subject: m{n}\r\n\r\nbody {n}\r\n".encode())[0] == "OK"
        client.select("INBOX")
        tracer = Flushes(server.process.process.pid, tmp_path / "strace.log")
        try:
            for n in range(1, 7):
                assert client.store(str(n), "+FLAGS", "(\\Flagged)")[0] == "OK"
                assert client.fetch(str(n), "(BODY[])")[0] == "OK"  # sets \Seen
                assert client.store(str(n), "-FLAGS", "(\\Seen \\Flagged)")[0] == "OK"
            assert client.close()[0] == "OK"  # nothing \Deleted: nothing to write
        finally:
            flushes = tracer.stop()
    finally:
        client.logout()
    # 18 flag changes, and at most one flush outside the checkpointer's background work: the writer's,
    # to raise the durable MODSEQ ceiling (deferred.py)
    assert sum(count for thread, count in flushes.items() if thread != "pb-checkpoint") <= 1, flushes
