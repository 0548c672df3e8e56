"""Two (or more) real Pillarbox servers for two domains on loopback addresses, and a DNS server.

Each server's MX listener is on its own ``127.a.b.n`` address, all on one port: port 25, as on the
Internet, whenever the tests may bind it (the ``mx_net`` fixture in ``conftest.py`` decides), so the
senders deliver to the default port with no ``[outbound] smtp_port`` override. Only where port 25
cannot be bound (no root, no CAP_NET_BIND_SERVICE, or taken) do they share an ephemeral port instead,
and the senders are pointed at it. A random ``127.a.b`` prefix per test module keeps modules apart.
"""

from __future__ import annotations

import asyncio
import random
import smtplib
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pillarbox.auth.passwords import make_credentials
from tests.dnsserver import DNSServer
from tests.server_process import NO_PREGREET_WAIT, ServerProcess, pillarbox, stored_messages
from tests.stores import open_at, run_at, store_section

PASSWORD = "correct horse battery"
SMTP_PORT = 25
MX_HOSTS = range(2, 10)
"""The last octets of the addresses an e2e test may put an MX listener on."""


@dataclass(frozen=True)
class MXNet:
    """Where the MX listeners of one test module live: ``prefix.n`` for n in MX_HOSTS, all on ``port``."""

    prefix: str
    port: int

    def ip(self, host: int) -> str:
        return f"{self.prefix}.{host}"

    def addresses(self) -> list[str]:
        return [self.ip(n) for n in MX_HOSTS]

    def two_nodes(self) -> dict[tuple[str, str], list[str]]:
        """The DNS records of node A (a.test on ``.2``) and node B (b.test on ``.3``)."""
        return {("a.test", "MX"): ["10 mx.a.test."], ("mx.a.test", "A"): [self.ip(2)],
                ("b.test", "MX"): ["10 mx.b.test."], ("mx.b.test", "A"): [self.ip(3)]}


def loopback_net() -> str:
    """A random 127.a.b prefix; hosts are ``prefix + ".2"`` etc."""
    return f"127.{random.randint(1, 250)}.{random.randint(1, 250)}"


def bindable(port: int, *hosts: str) -> bool:
    """Could a server listen on ``port`` of every one of ``hosts`` now (privilege and nobody there)?"""
    for host in hosts:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio's listeners do
            try:
                probe.bind((host, port))
            except OSError:
                return False
    return True


def free_port(*hosts: str) -> int:
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind((hosts[0], 0))
            port = probe.getsockname()[1]
        try:
            for host in hosts:
                with socket.socket() as other:
                    other.bind((host, port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port")


@dataclass
class Node:
    name: str
    ip: str
    directory: Path
    config: Path
    process: ServerProcess | None = None

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    def start(self) -> Node:
        self.process = ServerProcess(self.config)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()

    def cli(self, *args: str) -> str:
        return pillarbox(self.config, *args).stdout.decode()

    def messages(self, address: str, folder: str = "INBOX") -> list[bytes]:
        return stored_messages(self.data_dir, address, folder)

    def wait_for_messages(self, address: str, count: int = 1, timeout: float = 20) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.messages(address)
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError(f"{address} has {len(self.messages(address))} messages, wanted {count}:\n"
                             + (self.process.log() if self.process else ""))

    def queue_rows(self) -> list[tuple[int, str, str]]:
        async def rows(store: Any) -> list[tuple[int, str, str]]:
            return [(entry.id, r.address, r.state) for entry in await store.list_queue() for r in entry.recipients]
        return run_at(self.data_dir, rows)

    def submit(self, sender: str, recipients: list[str], message: bytes, **options: list[str]) -> None:
        assert self.process is not None
        context = ssl.create_default_context(cafile=str(self.data_dir / "tls" / "cert.pem"))
        context.check_hostname = False
        with smtplib.SMTP("127.0.0.1", self.process.port("submission"), timeout=10) as client:
            client.starttls(context=context)
            client.login(sender, PASSWORD)
            client.sendmail(sender, recipients, message, mail_options=options.get("mail", []),
                            rcpt_options=options.get("rcpt", []))


def make_node(root: Path, name: str, ip: str, port: int, dns: DNSServer, domains: list[str], users: list[str],
              queue: dict[str, object] | None = None, outbound: str = "") -> Node:
    directory = root / name
    directory.mkdir()
    config = directory / "pillarbox.toml"
    settings: dict[str, object] = {"retry_first": 1, "retry_max": 2, "poll_interval": 0.2, **(queue or {})}
    queue_table = "\n".join(f"{key} = {value}" for key, value in settings.items())
    remote_port = "" if port == SMTP_PORT else f"smtp_port = {port}\n"  # the other MXs listen where this one does
    config.write_text(
        f'hostname = "mx.{domains[0]}"\ndata_dir = "data"\nworkers = 1\n\n'
        f'[listen]\nsmtp = ["{ip}:{port}"]\nsubmission = ["127.0.0.1:0"]\n\n'
        f'[dns]\nnameservers = ["{dns.nameserver}"]\ntimeout = 2\n\n'
        f"[queue]\n{queue_table}\n\n"
        f"[outbound]\n{remote_port}connect_timeout = 3\n{outbound}\n\n"
        f"[antispam]\n{NO_PREGREET_WAIT}\n"
        + store_section(directory / "data")
    )
    populate(directory / "data", domains, users)
    return Node(name, ip, directory, config)


def populate(data_dir: Path, domains: list[str], users: list[str]) -> None:
    async def fill() -> None:
        store = await open_at(data_dir)
        try:
            for domain in domains:
                await store.add_domain(domain)
            for user in users:
                await store.add_account(user, *make_credentials(PASSWORD))
        finally:
            await store.close()

    asyncio.run(fill())
