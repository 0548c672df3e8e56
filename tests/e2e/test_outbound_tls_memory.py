"""TLS that never downgrades, end to end (outbound/tls_memory.py): A delivers to a peer that offers
STARTTLS (its certificate unverifiable: self-made), then to the same peer once it stops offering it,
as an attacker stripping STARTTLS would make it look. The second message gets nothing — it waits in
A's queue, the refusal logged and counted for TLS-RPT — until ``pillarbox tls forget`` accepts the
change, and then it goes. A message whose sender wrote ``TLS-Required: No`` (RFC 8689) goes meanwhile."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.certs import CertAuthority
from tests.dnsserver import DNSServer
from tests.e2e.outbound_env import MXNet, Node, make_node
from tests.outbound.smtpsink import SMTPSink
from tests.stores import run_at

pytestmark = pytest.mark.slow


@dataclass
class World:
    a: Node
    peer: SMTPSink


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, mx_net: MXNet) -> Iterator[World]:
    root = tmp_path_factory.mktemp("tlsmemory")
    cert, key = CertAuthority().issue(["mx.peer.test"]).write(root, "peer")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    peer = SMTPSink(host=mx_net.ip(7), port=mx_net.port, tls=context,
                    extensions=["PIPELINING", "8BITMIME", "SIZE 1000000", "STARTTLS"])
    dns = DNSServer({("a.test", "MX"): ["10 mx.a.test."], ("mx.a.test", "A"): [mx_net.ip(2)],
                     ("peer.test", "MX"): ["10 mx.peer.test."], ("mx.peer.test", "A"): [mx_net.ip(7)]})
    a = make_node(root, "a", mx_net.ip(2), mx_net.port, dns, ["a.test"], ["alice@a.test"]).start()
    yield World(a, peer)
    a.stop()
    peer.close()
    dns.close()
    assert "Traceback" not in a.process.log()


def message(subject: str, extra: str = "") -> bytes:
    return f"From: alice@a.test\r\nTo: bob@peer.test\r\nSubject: {subject}\r\n{extra}\r\nbody\r\n".encode()


def wait(condition, what: str, world: World, timeout: float = 20) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what}:\n{world.a.process.log()}")


def attempts(world: World) -> int:
    entries = run_at(world.a.data_dir, lambda store: store.list_queue())
    return max((r.attempts for entry in entries for r in entry.recipients), default=0)


def test_a_peer_that_stops_offering_starttls_gets_nothing_until_tls_forget(world: World):
    world.a.submit("alice@a.test", ["bob@peer.test"], message("first"))
    wait(lambda: len(world.peer.messages) == 1, "the first message", world)
    assert world.peer.messages[0].tls  # opportunistic TLS, certificate not verifiable
    assert "peer.test" in world.a.cli("tls", "list") and "unverified" in world.a.cli("tls", "list")

    world.peer.extensions.remove("STARTTLS")  # what stripping STARTTLS looks like from A
    world.a.submit("alice@a.test", ["bob@peer.test"], message("second"))
    wait(lambda: attempts(world) >= 2, "two refused attempts", world)
    assert len(world.peer.messages) == 1 and not any(c.startswith("MAIL") for c in world.peer.commands[-3:])
    line = world.a.process.wait_for_log(r"TLS downgrade refused.*domain=peer.test")
    assert "STARTTLS not offered" in line and "pillarbox tls forget peer.test" in line
    counted = sum(row[5] for row in run_at(world.a.data_dir, lambda store: store.tls_results())
                  if row[0] == "peer.test" and row[4] == "starttls-not-supported")
    assert counted >= 2

    # RFC 8689 4.2.2: the sender waives the recipient's TLS policy (our memory of it included)
    world.a.submit("alice@a.test", ["bob@peer.test"], message("report", "TLS-Required: No\r\n"))
    wait(lambda: len(world.peer.messages) == 2, "the TLS-Required: No message", world)
    assert b"Subject: report" in world.peer.messages[1].data  # (maybe on the first one's idle TLS session)
    wait(lambda: len(run_at(world.a.data_dir, lambda store: store.list_queue())) == 1, "report recorded", world)
    assert len(world.peer.messages) == 2  # "second" still waits

    assert "forgot" in world.a.cli("tls", "forget", "peer.test")
    wait(lambda: len(world.peer.messages) == 3, "the second message after tls forget", world)
    assert not world.peer.messages[2].tls and b"Subject: second" in world.peer.messages[2].data
