"""A real ``pillarbox serve`` (two processes) ordering from pebble: the first certificate replaces the
self-signed one, ``pillarbox acme renew`` gets a new one, and IMAP and SMTP clients see the new serial
without a restart, whichever process serves them; only one process orders."""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from tests.acme.pebble import Pebble, free_port
from tests.dnsserver import DNSServer
from tests.server_process import ServerProcess, cli_env, write_config

HOST = "mx.test"


def imaps_serial(port: int, root: Path) -> int:
    context = ssl.create_default_context(cafile=str(root))  # verifies the chain pebble issued, and the name
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=HOST) as tls:
        return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True)).serial_number


def smtp_serial(port: int, root: Path) -> int:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client._host = HOST  # the name STARTTLS checks the certificate against
        client.starttls(context=ssl.create_default_context(cafile=str(root)))
        return x509.load_der_x509_certificate(client.sock.getpeercert(binary_form=True)).serial_number


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[ServerProcess, Pebble, Path]]:
    dns = DNSServer({(HOST, "A"): ["127.0.0.1"]})
    https = free_port()
    pebble = Pebble(tmp_path, dns.address, free_port(), https)
    extra = (f'https = ["127.0.0.1:{https}"]\n[acme]\ndirectory = "{pebble.directory}"\n'
             f'ca_file = "{pebble.ca_file}"\n')
    config = write_config(tmp_path, services=("submission", "imaps", "http"), extra=extra, workers=2)
    root = tmp_path / "pebble-root.pem"
    root.write_bytes(pebble.roots())
    server = ServerProcess(config)
    try:
        yield server, pebble, root
    finally:
        server.stop()
        pebble.stop()
        dns.close()


def wait_until(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def issued_lines(server: ServerProcess) -> list[str]:
    return [line for line in server.lines if '"certificate issued"' in line and f"certificate={HOST}" in line]


@pytest.mark.slow
def test_issued_then_renewed_certificate_reaches_every_listener_without_restart(running) -> None:
    server, _pebble, root = running
    # at start, one line each: the file, the data_dir, the certificate (with its fingerprint), the listeners
    assert str(server.config) in server.wait_for_log(r'msg="configuration" file=')
    assert str(server.config.parent / "data") in server.wait_for_log(r'msg="data_dir" path=')
    assert re.search(r"self-signed at \S+ sha256 ([0-9A-F]{2}:){31}[0-9A-F]{2} until ACME",
                     server.wait_for_log(r'msg="certificate" source='))
    assert {"submission", "imaps", "http", "https"} <= set(server.addresses)
    server.wait_for_log("TLS certificate replaced", timeout=60)
    first = imaps_serial(server.port("imaps"), root)
    assert smtp_serial(server.port("submission"), root) == first
    renew = subprocess.run([sys.executable, "-m", "pillarbox", "--config", str(server.config), "acme", "renew"],
                           capture_output=True, text=True, env=cli_env(), timeout=60)
    assert renew.returncode == 0, renew.stderr
    wait_until(lambda: len(issued_lines(server)) == 2 and server.log().count("TLS certificate replaced") == 2)
    assert len(issued_lines(server)) == 2, server.log()  # one process orders
    assert "worker exited" not in server.log()  # SIGHUP passed on to a worker never kills it
    renewed = {imaps_serial(server.port("imaps"), root) for _ in range(6)}  # both processes serve it
    renewed |= {smtp_serial(server.port("submission"), root) for _ in range(6)}
    second = x509.load_pem_x509_certificate((server.config.parent / "data" / "acme" / "certs" / f"{HOST}.pem")
                                            .read_bytes())
    assert renewed == {second.serial_number} and second.serial_number != first
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{server.port('http')}/metrics", timeout=10).read().decode()
    assert f'pillarbox_acme_orders_total{{certificate="{HOST}",result="issued"}} 2' in metrics
    status = subprocess.run([sys.executable, "-m", "pillarbox", "--config", str(server.config), "acme", "status"],
                            capture_output=True, text=True, env=cli_env(), timeout=60)
    assert status.returncode == 0 and HOST in status.stdout
