"""ACME against pebble, in process with an injected clock: first issuance with each challenge type,
renewal at two thirds of the lifetime served by the 443 listener without a restart, a failing
challenge retried with backoff and counted in /metrics, and the host name unaffected by it."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509

from pillarbox.acme.challenges import port80_app
from pillarbox.acme.files import CertFiles, cert_files
from pillarbox.acme.manager import BACKOFF_FIRST, Wanted
from pillarbox.acme.service import build_acme, current_certificate
from pillarbox.acme.status import status
from pillarbox.config import Endpoint, load_config
from pillarbox.net.listener import Listener
from pillarbox.net.tls import TLSContextHolder
from pillarbox.obs import render_metrics
from pillarbox.web.server import HttpServer
from tests.acme.pebble import Pebble, free_port
from tests.dnsserver import DNSServer

HOST = "mx.test"
NAMES = (HOST, "mta-sts.example.com", "autoconfig.example.com")


@dataclass
class Setup:
    pebble: Pebble
    web_port: int
    https_port: int
    tmp: Path


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    dns = DNSServer({(name, "A"): ["127.0.0.1"] for name in NAMES})
    web_port, https_port = free_port(), free_port()
    pebble = Pebble(tmp_path, dns.address, web_port, https_port)
    yield Setup(pebble, web_port, https_port, tmp_path)
    pebble.stop()
    dns.close()


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def serial_seen(port: int, name: str) -> int:
    """The serial of the certificate the listener on ``port`` shows for SNI ``name``."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=name) as tls:
        return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True)).serial_number


async def run_server(setup: Setup, kind: str, domains: list[str], clock: Clock, body) -> list[Wanted]:
    listen = f'web = ["127.0.0.1:{setup.web_port}"]' if kind == "http-01" else \
        f'https = ["127.0.0.1:{setup.https_port}"]'
    path = setup.tmp / "pillarbox.toml"
    path.write_text(f'hostname = "{HOST}"\ndata_dir = "data"\n[listen]\n{listen}\n'
                    f'[acme]\ndirectory = "{setup.pebble.directory}"\nca_file = "{setup.pebble.ca_file}"\n')
    config = load_config(path)
    start = current_certificate(config)
    main = TLSContextHolder(start.cert, start.key)
    issued: list[Wanted] = []

    def on_issued(certificate: Wanted, files: CertFiles) -> None:
        issued.append(certificate)
        if certificate.main:
            main.use(files.cert, files.key)

    async def list_domains() -> list[str]:
        return domains

    acme = build_acme(config, main, list_domains, on_issued, clock)
    handler = HttpServer(port80_app(acme.board)).handle  # on 443 only the TLS handshake matters to the CA
    port = setup.web_port if kind == "http-01" else setup.https_port
    listener = Listener([Endpoint("127.0.0.1", port)], handler, tls=acme.web_tls if kind != "http-01" else None)
    await listener.start()
    try:
        await body(acme, config)
    finally:
        await listener.stop(1)
    return issued


def chain_verifies(files: CertFiles, root_pem: bytes, name: str) -> bool:
    store = x509.verification.Store(x509.load_pem_x509_certificates(root_pem))
    leaf, *intermediates = x509.load_pem_x509_certificates(files.cert.read_bytes())
    verifier = x509.verification.PolicyBuilder().store(store).build_server_verifier(x509.DNSName(name))
    return bool(verifier.verify(leaf, intermediates))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["http-01", "tls-alpn-01"])
def test_first_issuance_and_renewal(setup: Setup, kind: str) -> None:
    clock = Clock()

    async def body(acme, config) -> None:
        await acme.manager.run_due()
        host = cert_files(config.data_dir, HOST)
        first = host.load()
        assert first is not None and chain_verifies(host, setup.pebble.roots(), HOST)
        assert chain_verifies(cert_files(config.data_dir, "example.com"), setup.pebble.roots(),
                              "autoconfig.example.com")
        assert host.key.stat().st_mode & 0o777 == 0o600 and host.cert.stat().st_mode & 0o777 == 0o600
        if kind == "tls-alpn-01":  # the 443 listener serves what was issued, by SNI
            assert await asyncio.to_thread(serial_seen, setup.https_port, HOST) == first.serial_number
            domain_leaf = cert_files(config.data_dir, "example.com").load()
            seen = await asyncio.to_thread(serial_seen, setup.https_port, "mta-sts.example.com")
            assert seen == domain_leaf.serial_number
        lifetime = first.not_valid_after_utc.timestamp() - first.not_valid_before_utc.timestamp()
        clock.now = first.not_valid_before_utc.timestamp() + lifetime * 2 / 3 - 60
        await acme.manager.run_due()
        assert host.load().serial_number == first.serial_number  # not yet due
        clock.now += 120
        await acme.manager.run_due()
        renewed = host.load()
        assert renewed.serial_number != first.serial_number
        if kind == "tls-alpn-01":
            assert await asyncio.to_thread(serial_seen, setup.https_port, HOST) == renewed.serial_number  # no restart
        entry = {c.name: c for c in status(config.data_dir).certificates}[HOST]
        assert entry.failures == 0 and entry.serial == format(renewed.serial_number, "x")

    issued = asyncio.run(run_server(setup, kind, ["example.com"], clock, body))
    assert [w.name for w in issued] == [HOST, "example.com", HOST, "example.com"]


@pytest.mark.slow
def test_a_failing_challenge_is_retried_with_backoff_and_counted(setup: Setup) -> None:
    clock = Clock()

    async def body(acme, config) -> None:
        await acme.manager.run_due()  # broken.example has no address: its validation fails
        assert cert_files(config.data_dir, HOST).exists()  # the host name is not held back by it
        entry = {c.name: c for c in status(config.data_dir).certificates}["broken.example"]
        assert entry.failures == 1 and "broken.example" in entry.last_error
        assert entry.next_attempt == pytest.approx(clock.now + BACKOFF_FIRST)
        assert failures_metric() == 1
        clock.now += BACKOFF_FIRST - 10
        await acme.manager.run_due()
        assert failures_metric() == 1  # still waiting
        clock.now += 20
        await acme.manager.run_due()
        entry = {c.name: c for c in status(config.data_dir).certificates}["broken.example"]
        assert entry.failures == 2 and entry.next_attempt == pytest.approx(clock.now + 2 * BACKOFF_FIRST)
        assert failures_metric() == 2

    asyncio.run(run_server(setup, "http-01", ["broken.example"], clock, body))


def failures_metric() -> int:
    for line in render_metrics().splitlines():
        if line.startswith('pillarbox_acme_failures{certificate="broken.example"}'):
            return int(float(line.split()[-1]))
    raise AssertionError("no pillarbox_acme_failures line for broken.example")
