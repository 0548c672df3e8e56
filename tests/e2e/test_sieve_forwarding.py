"""Sieve redirect between two real servers: the forwarded copy arrives with an SRS sender whose SPF
passes at the destination, and a bounce from there comes back to the original sender.

alice@o.test (her domain's SPF allows only the test client's address, and o.test's MX is a sink)
writes to bob@a.test on server A; bob's script redirects to b.test (server B). Without SRS, B would
check o.test's SPF against A's address and fail it.
"""

from __future__ import annotations

import asyncio
import smtplib
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from pillarbox.store.sqlite.store import SQLiteStore
from tests.dnsserver import DNSServer
from tests.e2e.outbound_env import MXNet, Node, make_node
from tests.outbound.smtpsink import SMTPSink

pytestmark = pytest.mark.slow
CLIENT_HOST = 7  # the test client connects from prefix.7, the only address o.test's SPF allows

BOB_SCRIPT = """require ["fileinto"];
if header :contains "subject" "team" { redirect "team@b.test"; }
else { redirect "carol@b.test"; }
"""


@dataclass
class World:
    a: Node
    b: Node
    sink: SMTPSink
    mx: MXNet


def zones(mx: MXNet) -> dict[tuple[str, str], list[str]]:
    return {
        **mx.two_nodes(),
        ("o.test", "MX"): ["10 mx.o.test."], ("mx.o.test", "A"): [mx.ip(6)],
        ("o.test", "TXT"): [f'"v=spf1 ip4:{mx.ip(CLIENT_HOST)} -all"'],
        ("a.test", "TXT"): ['"v=spf1 ip4:127.0.0.0/8 -all"'],
    }


def _scripts(node: Node, owner: str, scripts: dict[str, str]) -> None:
    async def put() -> None:
        store = SQLiteStore.open(node.data_dir)
        try:
            account = await store.get_account(owner)
            for name, text in scripts.items():
                await store.put_sieve_script(account.id, name, text)
                await store.activate_sieve_script(account.id, name)
        finally:
            await store.close()

    asyncio.run(put())


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, mx_net: MXNet) -> Iterator[World]:
    root = tmp_path_factory.mktemp("sieve-forwarding")
    dns = DNSServer(zones(mx_net))
    sink = SMTPSink(host=mx_net.ip(6), port=mx_net.port)
    b = make_node(root, "b", mx_net.ip(3), mx_net.port, dns, ["b.test"],
                  ["carol@b.test", "dave@b.test", "erin@b.test"])
    a = make_node(root, "a", mx_net.ip(2), mx_net.port, dns, ["a.test"], ["bob@a.test"])
    _scripts(a, "bob@a.test", {"forward": BOB_SCRIPT})
    _scripts(b, "dave@b.test", {"no": 'require "reject"; reject "dave wants none of this";'})
    b.cli("alias", "add", "team@b.test", "dave@b.test", "erin@b.test")
    a.start()
    b.start()
    yield World(a, b, sink, mx_net)
    a.stop()
    b.stop()
    sink.close()
    dns.close()
    for node in (a, b):
        assert node.process is not None and "Traceback" not in node.process.log()


def send(world: World, subject: str) -> None:
    message = (f"From: alice@o.test\r\nTo: bob@a.test\r\nSubject: {subject}\r\nMessage-ID: <{subject}@o.test>\r\n"
               f"\r\nHello ({subject}).\r\n").encode()
    with smtplib.SMTP(world.mx.ip(2), world.mx.port, timeout=10,
                      source_address=(world.mx.ip(CLIENT_HOST), 0)) as client:
        client.sendmail("alice@o.test", ["bob@a.test"], message)


def test_redirect_arrives_with_an_srs_sender_that_passes_spf(world: World) -> None:
    send(world, "hello-carol")
    [raw] = world.b.wait_for_messages("carol@b.test")
    assert raw.startswith(b"Return-Path: <SRS0=") and b"=o.test=alice@a.test>" in raw.split(b"\r\n")[0]
    headers = raw.split(b"\r\n\r\n")[0].decode()
    assert "spf=pass" in headers and "smtp.mailfrom=SRS0=" in headers, headers
    assert b"Delivered-To: bob@a.test" in raw
    assert world.a.messages("bob@a.test") == []  # redirect without :copy: nothing kept at A


def test_a_bounce_from_there_comes_back_to_the_original_sender(world: World) -> None:
    send(world, "team-news")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        bounces = [m for m in world.sink.messages if m.recipients == ["alice@o.test"]]
        if bounces:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("no bounce reached alice@o.test:\n" + (world.b.process.log() if world.b.process else ""))
    [bounce] = bounces
    assert bounce.sender == ""
    assert b"dave wants none of this" in bounce.data and b"Status: 5.7.1" in bounce.data
    assert b"Final-Recipient: rfc822; dave@b.test" in bounce.data  # only dave's copy failed
