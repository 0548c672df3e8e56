"""The second half of the mail flow, end to end: alice@a.test's server delivers to b.test's server.

Two real ``pillarbox serve`` processes (A for a.test, B for b.test and c.test), a DNS server on
loopback with the zones, and a plain SMTP sink without DSN support for nodsn.test.
"""

from __future__ import annotations

import email
import email.policy
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.dnsserver import DNSServer
from tests.e2e.outbound_env import SMTP_PORT, MXNet, Node, make_node
from tests.outbound.smtpsink import SMTPSink

pytestmark = pytest.mark.slow


@dataclass
class World:
    a: Node
    b: Node
    dns: DNSServer
    sink: SMTPSink
    mx: MXNet


def zones(mx: MXNet) -> dict[tuple[str, str], list[str]]:
    return {
        **mx.two_nodes(),
        ("c.test", "MX"): ["10 mx.b.test."],
        ("fallback.test", "MX"): ["10 dead.fallback.test.", "20 mx.b.test."],
        ("dead.fallback.test", "A"): [mx.ip(9)],
        ("nullmx.test", "MX"): ["0 ."],
        ("gone.test", "MX"): ["10 dead.fallback.test."],
        ("nodsn.test", "MX"): ["10 mx.nodsn.test."], ("mx.nodsn.test", "A"): [mx.ip(6)],
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, mx_net: MXNet) -> Iterator[World]:
    root = tmp_path_factory.mktemp("outbound")
    dns = DNSServer(zones(mx_net))
    sink = SMTPSink(host=mx_net.ip(6), port=mx_net.port)
    b = make_node(root, "b", mx_net.ip(3), mx_net.port, dns, ["b.test", "c.test", "fallback.test"],
                  ["bob@b.test", "carol@c.test", "fred@fallback.test"]).start()
    a = make_node(root, "a", mx_net.ip(2), mx_net.port, dns, ["a.test"], ["alice@a.test"],
                  queue={"delay_notice": 2, "max_age": 6}).start()
    yield World(a, b, dns, sink, mx_net)
    a.stop()
    b.stop()
    sink.close()
    dns.close()
    for node in (a, b):
        assert "Traceback" not in node.process.log()


def message(subject: str, to: str = "bob@b.test", author: str = "alice@a.test") -> bytes:
    return (f"From: {author}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{subject}@a.test>\r\n\r\n"
            f"Hello from A ({subject}).\r\n").encode()


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def find(world: World, address: str, subject: str, timeout: float = 20) -> bytes:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for raw in world.b.messages(address):
            if f"Subject: {subject}\r\n".encode() in raw:
                return raw
        time.sleep(0.1)
    raise AssertionError(f"no message with {subject!r} for {address}:\n{world.a.process.log()}")


def bounces(world: World, needle: str) -> list[email.message.EmailMessage]:
    return [parse(m) for m in world.a.messages("alice@a.test") if b"multipart/report" in m and needle.encode() in m]


def wait_bounce(world: World, needle: str, timeout: float = 20) -> email.message.EmailMessage:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = bounces(world, needle)
        if found:
            return found[-1]
        time.sleep(0.2)
    raise AssertionError(f"no bounce mentioning {needle!r}:\n{world.a.process.log()}")


def status_fields(report: email.message.EmailMessage) -> str:
    part = list(report.iter_parts())[1]
    assert part.get_content_type() == "message/delivery-status"
    return part.as_string()


def test_submission_reaches_remote_inbox_over_starttls(world: World):
    world.a.submit("alice@a.test", ["bob@b.test"], message("first"))
    raw = find(world, "bob@b.test", "first")
    assert raw.count(b"Received:") == 2  # A's (submission) and B's (MX); the queue adds none
    assert b"by mx.b.test (Pillarbox) with ESMTPS" in raw
    line = world.a.process.wait_for_log(r"delivery attempt.*recipient=bob@b.test")
    assert "mx=mx.b.test" in line and "tls=TLSv1" in line and "result=sent" in line
    assert world.a.queue_rows() == [] or all(r[2] != "pending" for r in world.a.queue_rows())



def test_nodes_use_port_25_of_their_own_address(world: World):
    """As on the Internet: each MX on port 25 of its address, the sender on the default port (no override)."""
    if world.mx.port != SMTP_PORT:
        pytest.skip("port 25 cannot be bound here (see the mx_net fixture); the nodes share an ephemeral port")
    assert world.b.process.addresses["smtp"] == (world.mx.ip(3), SMTP_PORT)
    assert world.a.process.addresses["smtp"] == (world.mx.ip(2), SMTP_PORT)
    assert "smtp_port" not in world.a.config.read_text()

def test_multi_domain_recipients(world: World):
    world.a.submit("alice@a.test", ["bob@b.test", "carol@c.test"], message("multi"))
    assert b"multi" in find(world, "bob@b.test", "multi")
    assert b"multi" in find(world, "carol@c.test", "multi")


def test_unknown_user_bounces_with_delivery_status(world: World):
    world.a.submit("alice@a.test", ["nobody@b.test"], message("unknown", "nobody@b.test"))
    report = wait_bounce(world, "nobody@b.test")
    assert report["From"] == "Mail Delivery System <MAILER-DAEMON@mx.a.test>"
    assert report.get_content_type() == "multipart/report"
    assert report["Content-Type"].params["report-type"] == "delivery-status"
    fields = status_fields(report)
    assert "Final-Recipient: rfc822; nobody@b.test" in fields
    assert "Action: failed" in fields and "Status: 5.1.1" in fields
    assert "Remote-MTA: dns; mx.b.test" in fields and "Diagnostic-Code: smtp; 550" in fields
    headers = list(report.iter_parts())[2]
    assert headers.get_content_type() == "text/rfc822-headers"
    assert b"Subject: unknown" in headers.get_payload(decode=False).encode()


def test_null_mx_bounces_at_once(world: World):
    world.a.submit("alice@a.test", ["x@nullmx.test"], message("nullmx", "x@nullmx.test"))
    fields = status_fields(wait_bounce(world, "x@nullmx.test", timeout=10))
    assert "Status: 5.1.10" in fields and "Action: failed" in fields


def test_mx_fallback_to_the_next_host(world: World):
    world.a.submit("alice@a.test", ["fred@fallback.test"], message("fallback", "fred@fallback.test"))
    assert b"fallback" in find(world, "fred@fallback.test", "fallback")


def test_delay_notice_then_expiry_bounce(world: World):
    world.a.submit("alice@a.test", ["x@gone.test"], message("gone", "x@gone.test"))
    delayed = status_fields(wait_bounce(world, "Action: delayed"))
    assert "x@gone.test" in delayed and "Will-Retry-Until:" in delayed
    failed = status_fields(wait_bounce(world, "Status: 5.4.7", timeout=30))
    assert "Action: failed" in failed and "x@gone.test" in failed


def test_notify_success_from_a_peer_without_dsn(world: World):
    world.a.submit("alice@a.test", ["pat@nodsn.test"], message("nodsn", "pat@nodsn.test"),
                   rcpt=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;pat@nodsn.test"], mail=["ENVID=env-42", "RET=HDRS"])
    fields = status_fields(wait_bounce(world, "Action: relayed"))
    assert "Original-Envelope-Id: env-42" in fields and "Original-Recipient: rfc822; pat@nodsn.test" in fields
    assert world.sink.messages[-1].rcpt_params == [[]]  # no DSN parameters to a peer without DSN


def test_notify_and_dsn_params_passed_to_a_dsn_peer(world: World):
    world.a.submit("alice@a.test", ["bob@b.test"], message("dsnparams"), rcpt=["NOTIFY=NEVER"])
    find(world, "bob@b.test", "dsnparams")
    assert not bounces(world, "dsnparams")


def test_queue_list_json(world: World):
    rows = json.loads(world.a.cli("queue", "list", "--json"))
    assert isinstance(rows, list)


def test_queue_survives_sigkill_then_retry_all(tmp_path: Path, world: World):
    world.dns.set("later.test", "MX", ["10 mx.later.test."])
    world.dns.set("mx.later.test", "A", [world.mx.ip(9)])  # nobody there yet
    node = make_node(tmp_path, "a2", world.mx.ip(4), world.mx.port, world.dns, ["a2.test"], ["ann@a2.test"],
                     queue={"retry_first": 3600, "retry_max": 3600}).start()
    node.submit("ann@a2.test", ["bob@b.test", "zed@later.test"], message("later", author="ann@a2.test"))
    node.process.wait_for_log(r"delivery attempt.*recipient=zed@later.test")
    node.process.wait_for_log(r"delivery attempt.*recipient=bob@b.test.*result=sent")  # logged after the 250 is stored
    node.kill()
    rows = dict((r[1], r[2]) for r in node.queue_rows())
    assert rows == {"bob@b.test": "sent", "zed@later.test": "pending"} or rows == {"zed@later.test": "pending"}
    listed = json.loads(node.cli("queue", "list", "--json"))
    assert listed[0]["recipients"][-1]["address"] == "zed@later.test"
    world.dns.set("mx.later.test", "A", [world.mx.ip(6)])  # the sink takes later.test now
    node.start()
    node.cli("queue", "retry", "--all")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any("zed@later.test" in m.recipients for m in world.sink.messages):
        time.sleep(0.1)
    assert any("zed@later.test" in m.recipients for m in world.sink.messages)
    assert len([m for m in world.b.messages("bob@b.test") if b"Subject: later" in m]) == 1  # never twice
    node.stop()


def test_dkim_dual_signature_verifies(world: World):
    import dkim

    world.a.submit("alice@a.test", ["bob@b.test"], message("signed"))
    raw = find(world, "bob@b.test", "signed")
    assert raw.count(b"DKIM-Signature:") == 2
    zone = world.a.cli("dns", "a.test")
    records = {}
    for line in zone.splitlines():
        if "._domainkey." in line:
            name, value = line.split(" ", 1)[0], "".join(line.split('"')[1::2])
            records[name.encode()] = value.encode()
    assert len(records) == 2
    signed = raw[raw.index(b"DKIM-Signature:"):]  # B's Received and Return-Path come before
    for index in (0, 1):
        assert dkim.DKIM(signed).verify(idx=index, dnsfunc=lambda name, timeout=5: records.get(name))
    assert "a.test. 3600 IN MX 10 mx.a.test." in zone and '"v=spf1 mx -all"' in zone
    assert "_smtp._tls.a.test." in zone and "_submissions._tcp.a.test." in zone
    assert "_mta-sts.a.test." not in zone and "no [listen] https" in zone  # nothing here would serve the policy
