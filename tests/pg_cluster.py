"""A throwaway PostgreSQL server for the tests: ``initdb`` + ``pg_ctl`` in a temporary directory, on a
free loopback port, from Debian's ``postgresql`` package (``scripts/test.sh`` installs it; no Docker).

PostgreSQL refuses to run as root, and CI runs as root: then the server runs as ``nobody`` (the cluster
directory is handed to that user). Connections are TCP with a password (scram-sha-256), as a real
install's are, so a wrong password is refused as it would be in production. Durability settings are
relaxed (fsync off): the tests check what the store commits, not what the disk survives.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

USER = "pillarbox"
PASSWORD = "test-secret"


def binaries() -> Path | None:
    """The newest installed PostgreSQL's bin directory, or None when the package is missing."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Cluster:
    def __init__(self, bin_dir: Path, durable: bool = False) -> None:
        """``durable``: PostgreSQL's own defaults (fsync on), for benchmarks; tests relax them."""
        self.bin_dir = bin_dir
        self._relaxed = "" if durable else " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self.root = Path(tempfile.mkdtemp(prefix="pillarbox-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._as_user = "nobody" if os.geteuid() == 0 else None

    def url(self, database: str = "postgres", password: str = PASSWORD) -> str:
        return f"postgresql://{USER}:{password}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        user = self._as_user
        return subprocess.run(args, check=check, capture_output=True, user=user, group=user and "nogroup",
                              cwd=self.root, timeout=120)

    def start(self) -> None:
        pwfile = self.root / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self._as_user is not None:
            entry = pwd.getpwnam(self._as_user)
            self.root.chmod(0o700)
            for path in (self.root, pwfile):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._run(str(self.bin_dir / "initdb"), "-D", str(self.data), "-U", USER, "--pwfile", str(pwfile),
                  "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
                  "--no-sync")
        self.resume()

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def resume(self) -> None:
        """Start the server (again, after ``stop``: same directory, same port)."""
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.root}"
                   f"{self._relaxed} -c max_connections=300 -c shared_buffers=32MB")
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.root / "log"),
                  "-w", "-t", "60", "start")

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def running_cluster(durable: bool = False) -> Iterator[Cluster]:
    """``durable``: PostgreSQL's own safe settings, for benchmarks (see ``Cluster``)."""
    bin_dir = binaries()
    if bin_dir is None:
        raise FileNotFoundError("PostgreSQL binaries (initdb, pg_ctl) not found: apt-get install postgresql")
    cluster = Cluster(bin_dir, durable=durable)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()
