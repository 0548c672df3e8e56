"""A real rspamd (Debian's package) for the tests: its own configuration, ports and files in a temp dir.

The configuration loads rspamd's Lua rules but no network: DNS points at a closed loopback port,
the public-suffix list is a four-line file (compiling the real one takes half a minute), and the
Bayes classifier keeps its tokens in a redis-server of its own (rspamd's only Bayes backend).
Actions: reject at 15, "add header" at 0.5, so a message without a Date: field (MISSING_DATE, 1.0)
is one to file into Junk, and GTUBE is rejected (rspamd's own test pattern).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

CONFIG = """
lua = "$RULESDIR/rspamd.lua"
options {{
  pidfile = "{dir}/rspamd.pid";
  filters = "";
  dns {{ nameserver = ["127.0.0.1:9"]; timeout = 0.2s; retransmits = 1; }}
  cache_file = "{dir}/symbols.cache";
  dynamic_conf = "{dir}/dynamic";
  history_file = "{dir}/history";
  control_socket = "{dir}/rspamd.sock mode=0600";
  tempdir = "{dir}";
  url_tld = "{dir}/tld.dat";
  gtube_patterns = "all";
}}
logging {{ type = "file"; filename = "{dir}/rspamd.log"; level = "info"; }}
actions {{ reject = 15; add_header = 0.5; greylist = 100; }}
worker "normal" {{ bind_socket = "127.0.0.1:{normal}"; count = 1; }}
worker "controller" {{ bind_socket = "127.0.0.1:{controller}"; count = 1; password = "{password}"; }}
classifier "bayes" {{
  tokenizer {{ name = "osb"; }}
  backend = "redis";
  servers = "127.0.0.1:{redis}";
  new_schema = true;
  min_tokens = 1;
  min_learns = 1;
  statfile {{ symbol = "BAYES_HAM"; spam = false; }}
  statfile {{ symbol = "BAYES_SPAM"; spam = true; }}
}}
"""
PASSWORD = "test-controller-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Rspamd:
    """``Rspamd(directory)`` starts redis and rspamd and waits until both answer; ``stop()`` ends both."""

    def __init__(self, directory: Path) -> None:
        if shutil.which("rspamd") is None or shutil.which("redis-server") is None:
            raise AssertionError("rspamd and redis-server are needed: apt-get install rspamd redis-server"
                                 " (scripts/test.sh installs them)")
        self.dir = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.normal, self.controller, self.redis_port = free_port(), free_port(), free_port()
        (directory / "tld.dat").write_text("test\ncom\nnet\norg\n")
        (directory / "rspamd.conf").write_text(CONFIG.format(
            dir=directory, normal=self.normal, controller=self.controller, redis=self.redis_port, password=PASSWORD))
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(directory)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.process = subprocess.Popen(["rspamd", "-f", "-i", "-c", str(directory / "rspamd.conf")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait_until_ready()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.normal}"

    @property
    def controller_url(self) -> str:
        return f"http://127.0.0.1:{self.controller}"

    def log(self) -> str:
        path = self.dir / "rspamd.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _wait_until_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"rspamd exited with {self.process.returncode}:\n{self.log()[-3000:]}")
            try:
                for port in (self.normal, self.controller):
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2).read()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError(f"rspamd did not answer within {timeout} s:\n{self.log()[-3000:]}")

    def stop(self) -> None:
        for process in (self.process, self.redis):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)
