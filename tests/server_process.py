"""Run the real ``pillarbox serve`` in a subprocess on ephemeral loopback ports, for wire tests.

Listeners are configured on port 0; the addresses the server really bound are read from its
``listening`` log lines. stderr is drained by a thread (so the pipe never fills) and kept for
assertions about log lines.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.stores import open_at, run_at, store_section

SERVICES = ("smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s", "http")
_LISTENING = re.compile(r'msg="?listening"? service=(\w+) address=(\S+)')
_READY = re.compile(r'msg="?ready"?')


NO_PREGREET_WAIT = "pregreet_delay = 0"
"""The test servers' ``[antispam]`` table unless a test gives its own: the pregreet test (waiting 1 s
for a client that talks before the greeting) would slow every SMTP wire test on port 25 by that second.
tests/antispam tests it with a delay of its own."""


def write_config(
    directory: Path, services: tuple[str, ...] = SERVICES, extra: str = "", workers: int = 1,
    antispam: str = NO_PREGREET_WAIT, store_url: str | None = None, **top: str,
) -> Path:
    """A config on loopback ports with ``data_dir = "data"`` beside it. The store is the test run's
    (``tests/stores``) unless ``store_url`` names one; it exists already (admin commands need one).
    ``workers`` 1 unless a test is about several processes: the default, one per CPU, would start a
    process per CPU for every test server and double the suite's processes."""
    listen = "\n".join(f'{name} = ["127.0.0.1:0"]' for name in services)
    head = "\n".join(f'{key} = "{value}"' for key, value in {"hostname": "mx.test", **top}.items())
    path = directory / "pillarbox.toml"
    store = f'\n[store]\nurl = "{store_url}"\n' if store_url else store_section(directory / "data")
    path.write_text(f'{head}\ndata_dir = "data"\nworkers = {workers}\n\n[listen]\n{listen}\n{extra}\n'
                    f'\n[antispam]\n{antispam}\n{store}')
    if not store_url:
        init_store(directory / "data")
    return path


def init_store(data_dir: Path) -> None:
    """Create an empty store, as the first ``serve`` or ``quickstart`` does (on PostgreSQL, the data_dir's
    database, made migrated by ``url_for``)."""
    run_at(data_dir, _nothing)


async def _nothing(store: object) -> None:
    return None


def eventually(check: Callable[[], bool], timeout: float = 30) -> bool:
    """Poll ``check`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def cli_env(cheap_hashes: bool = True) -> dict[str, str]:
    env = dict(os.environ)
    env["PILLARBOX_CHEAP_HASHES"] = "1" if cheap_hashes else "0"
    return env


def pillarbox(config: Path, *args: str, input: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "pillarbox", "--config", str(config), *args],
        input=input, capture_output=True, env=cli_env(), timeout=120,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"pillarbox {' '.join(args)} failed: {result.stderr.decode(errors='replace')}")
    return result


def stored_messages(data_dir: Path, address: str, folder: str = "INBOX") -> list[bytes]:
    """The stored bytes of every message in a folder, read through the store as IMAP would."""
    import asyncio

    async def read() -> list[bytes]:
        store = await open_at(data_dir)
        try:
            account = await store.get_account(address)
            mailbox = await store.get_mailbox(account.id, folder)
            return [await store.read_message(e.message_id) for e in await store.list_messages(mailbox.id)]
        finally:
            await store.close()

    return asyncio.run(read())


class ServerProcess:
    def __init__(
        self, config: Path, shares_data_dir: bool = False, cheap_hashes: bool = True, serve_args: tuple[str, ...] = (),
    ) -> None:
        """``shares_data_dir``: a second server on a data_dir another one runs on, which ``serve`` refuses
        but for tests that play two processes with a port each (PILLARBOX_TESTS_SHARE_DATA_DIR).
        ``cheap_hashes`` False: the hash parameters of the configuration, not the cheapest.
        ``serve_args``: options of ``serve`` (``--node NAME``)."""
        assert re.search(r"^workers = ", config.read_text(), re.M), "a test server sets workers (write_config does)"
        self.config = config
        self.lines: list[str] = []
        self.addresses: dict[str, tuple[str, int]] = {}
        self._ready = threading.Event()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pillarbox", "--config", str(config), "serve", *serve_args],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env={**cli_env(cheap_hashes), **({"PILLARBOX_TESTS_SHARE_DATA_DIR": "1"} if shares_data_dir else {})},
        )
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        if not self._ready.wait(30):
            self.kill()
            raise AssertionError("server did not become ready:\n" + self.log())

    def _drain(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            self.lines.append(line)
            found = _LISTENING.search(line)
            if found:
                host, _, port = found.group(2).rpartition(":")
                self.addresses[found.group(1)] = (host.strip("[]"), int(port))
            if _READY.search(line):
                self._ready.set()
        self._ready.set()

    def port(self, service: str) -> int:
        return self.addresses[service][1]

    def log(self) -> str:
        return "\n".join(self.lines)

    def wait_for_log(self, pattern: str, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if re.search(pattern, line):
                    return line
            time.sleep(0.02)
        raise AssertionError(f"no log line matching {pattern!r}:\n{self.log()}")

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        self._reader.join(5)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
