"""Debian's ``pebble`` (Let's Encrypt's test ACME server) for tests, on loopback ports.

Pebble validates a challenge by connecting to the name's address (from our loopback DNS server,
``tests/dnsserver.py``) on the ports its config names: we point HTTP-01 and TLS-ALPN-01 at the ports
the Pillarbox under test listens on. Its own HTTPS certificate comes from a test CA whose certificate
Pillarbox trusts through ``[acme] ca_file``. Random VA sleeps, nonce rejections and authorization reuse
are off, so every order validates every name and runs as fast as the machine lets it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.certs import CertAuthority, pem

BINARY = shutil.which("pebble") or "/usr/bin/pebble"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Pebble:
    def __init__(self, directory: Path, dns: tuple[str, int], http_port: int, tls_port: int,
                 validity: int | None = None) -> None:
        if not os.path.exists(BINARY):
            pytest.fail("pebble is installed by scripts/test.sh (Debian package pebble)")
        authority = CertAuthority("Pebble front CA")
        self.ca_file = directory / "pebble-ca.pem"
        self.ca_file.write_bytes(pem(authority.cert))
        cert, key = authority.issue(["localhost"]).write(directory, "pebble")
        self.port, management = free_port(), free_port()
        settings = {"listenAddress": f"127.0.0.1:{self.port}", "managementListenAddress": f"127.0.0.1:{management}",
                    "certificate": str(cert), "privateKey": str(key), "httpPort": http_port, "tlsPort": tls_port,
                    "ocspResponderURL": "", "externalAccountBindingRequired": False}
        if validity is not None:
            settings["certificateValidityPeriod"] = validity
        config = directory / "pebble.json"
        config.write_text(json.dumps({"pebble": settings}))
        env = {**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0", "PEBBLE_AUTHZREUSE": "0"}
        self.log = directory / "pebble.log"
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen([BINARY, "-config", str(config), "-dnsserver", f"{dns[0]}:{dns[1]}"],
                                            stdout=out, stderr=subprocess.STDOUT, env=env)
        self.management = f"https://localhost:{management}"
        self._wait_ready()

    @property
    def directory(self) -> str:
        return f"https://localhost:{self.port}/dir"

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.directory, context=self._context(), timeout=2).read()
                return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.1)
        self.stop()
        raise AssertionError("pebble did not start:\n" + self.log.read_text())

    def roots(self) -> bytes:
        """The PEM root that pebble's issued chains lead to (made anew at every start)."""
        return urllib.request.urlopen(f"{self.management}/roots/0", context=self._context(), timeout=5).read()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
