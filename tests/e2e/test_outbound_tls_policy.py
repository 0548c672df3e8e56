"""MTA-STS and DANE enforced both ways, end to end: A delivers to B only when B's TLS passes the policy.

A test CA issues B's SMTP certificate (for mx.b.test only) and the certificate of an HTTPS server on
loopback that serves every ``mta-sts.<domain>`` policy; A trusts that CA (``[outbound] ca_file``) and
fetches policies from ``[outbound] mta_sts_port``. Each case has its own destination domain (A
caches policies per domain), all hosted by B:

- good.test: enforce, MX mx.b.test listed, certificate valid → delivered;
- badname.test: enforce, MX mx2.b.test (B's address, but not a name on B's certificate) → deferred;
- unlisted.test: enforce, MX mx.b.test but the policy lists only mx.elsewhere.test → deferred;
- testing.test: testing mode with the badname mismatch → delivered (failure only counted);
- dane.test / danebad.test: a DNSSEC-authenticated (AD bit) TLSA 3 1 1 of B's key, right and wrong;
  the MX RRsets of the DANE domains are authenticated too (RFC 7672 2.2.1), dane-insecure-mx.test's is
  not: its MX host is danebad's, whose wrong TLSA then does not apply (delivered, opportunistic TLS);
- ta.test / tabadname.test: DANE-TA, a TLSA 2 0 1 / 2 1 1 of the test CA, which B sends after its own
  certificate; the CA is in A's trust store too, but DANE-TA does not need that. ta.test's MX is a
  name on B's certificate (delivered), tabadname.test's is not (deferred: for DANE-TA names count).
  cname-ta.test's MX is mx-cname-ta.b.test, a validated CNAME of mx-ta.b.test: the TLSA records and the
  certificate's name are those of the expanded name (RFC 7672 2.2.3, 3.2.2; delivered under DANE).
- tlsafail.test / tlsafail-unsigned.test: the TLSA lookup of the MX fails (SERVFAIL); the first MX's
  address records are DNSSEC-signed (a failure may hide a DANE policy: deferred), the second's are not
  (a failure means no TLSA: delivered with opportunistic TLS).
- REQUIRETLS (RFC 8689) messages: rtls-dnssec.test's MX RRset is DNSSEC-authenticated and names
  mx.b.test (verified TLS, B advertises REQUIRETLS: delivered); rtls-mismatch.test's is authenticated
  but names mx2.b.test, not on B's certificate; rtls-plain.test's is not authenticated and has no
  MTA-STS policy: both bounced (5.7.10) and nothing reaches B, in clear or otherwise.
"""

from __future__ import annotations

import http.server
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pillarbox.dns.resolver import TLSARecord
from pillarbox.outbound import dane
from tests.certs import CertAuthority, der, pem
from tests.dnsserver import DNSServer
from tests.e2e.outbound_env import MXNet, Node, free_port, make_node
from tests.stores import run_at

pytestmark = pytest.mark.slow

DOMAINS = ["good.test", "badname.test", "unlisted.test", "testing.test", "dane.test", "danebad.test", "ta.test",
           "tabadname.test", "dane-insecure-mx.test", "cname-ta.test", "tlsafail.test", "tlsafail-unsigned.test",
           "rtls-dnssec.test", "rtls-mismatch.test", "rtls-plain.test"]
REQUIRETLS_SIGNED_MX = ["rtls-dnssec.test", "rtls-mismatch.test"]
DANE_SIGNED_MX = ["dane.test", "danebad.test", "ta.test", "tabadname.test", "cname-ta.test", "mx-cname-ta.b.test",
                  "tlsafail.test", "tlsafail-unsigned.test"]
"""Names whose answers carry the AD bit: the DANE domains' MX RRsets, the CNAME that cname-ta.test's MX is."""
TLSA_FAILING = {"mx-tlsafail.b.test": True, "mx-tlsafail-unsigned.b.test": False}
"""MX hosts whose TLSA lookup fails: are their address records DNSSEC-signed?"""
B_NAMES = ["mx.b.test", "mx-ta.b.test"]
"""The names on B's certificate."""
POLICIES = {
    "good.test": "enforce\nmx: mx.b.test",
    "badname.test": "enforce\nmx: mx2.b.test",
    "unlisted.test": "enforce\nmx: mx.elsewhere.test",
    "testing.test": "testing\nmx: mx2.b.test",
}


class PolicyServer:
    """HTTPS on loopback serving ``/.well-known/mta-sts.txt`` for every ``mta-sts.<domain>`` Host."""

    def __init__(self, host: str, port: int, cert: Path, key: Path, policies: dict[str, str]) -> None:
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                domain = self.headers.get("Host", "").removeprefix("mta-sts.")
                server.requests.append(domain)
                mode = policies.get(domain)
                if self.path != "/.well-known/mta-sts.txt" or mode is None:
                    self.send_error(404)
                    return
                body = f"version: STSv1\nmode: {mode}\nmax_age: 86400\n".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.httpd = http.server.ThreadingHTTPServer((host, port), Handler)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class World:
    a: Node
    b: Node
    dns: DNSServer
    https: PolicyServer


def zones(mx: MXNet, b_der: bytes, ca_der: bytes) -> tuple[dict[tuple[str, str], list[str]], list[str]]:
    b_hosts = ["mx.b.test", "mx2.b.test", "mx-dane.b.test", "mx-danebad.b.test", "mx-ta.b.test", "mx-tabad.b.test",
               *TLSA_FAILING]
    records: dict[tuple[str, str], list[str]] = {
        ("a.test", "MX"): ["10 mx.a.test."], ("mx.a.test", "A"): [mx.ip(2)],
        **{(host, "A"): [mx.ip(3)] for host in b_hosts},
        ("good.test", "MX"): ["10 mx.b.test."], ("badname.test", "MX"): ["10 mx2.b.test."],
        ("unlisted.test", "MX"): ["10 mx.b.test."], ("testing.test", "MX"): ["10 mx2.b.test."],
        ("dane.test", "MX"): ["10 mx-dane.b.test."], ("danebad.test", "MX"): ["10 mx-danebad.b.test."],
        ("ta.test", "MX"): ["10 mx-ta.b.test."], ("tabadname.test", "MX"): ["10 mx-tabad.b.test."],
        ("dane-insecure-mx.test", "MX"): ["10 mx-danebad.b.test."],
        ("cname-ta.test", "MX"): ["10 mx-cname-ta.b.test."], ("mx-cname-ta.b.test", "CNAME"): ["mx-ta.b.test."],
        ("tlsafail.test", "MX"): ["10 mx-tlsafail.b.test."],
        ("tlsafail-unsigned.test", "MX"): ["10 mx-tlsafail-unsigned.b.test."],
        ("rtls-dnssec.test", "MX"): ["10 mx.b.test."], ("rtls-mismatch.test", "MX"): ["10 mx2.b.test."],
        ("rtls-plain.test", "MX"): ["10 mx.b.test."],
    }
    for domain in POLICIES:
        records[(f"_mta-sts.{domain}", "TXT")] = ['"v=STSv1; id=20260101"']
        records[(f"mta-sts.{domain}", "A")] = [mx.ip(5)]
    tlsa = {
        "mx-dane.b.test": dane.record_for(b_der),
        "mx-danebad.b.test": TLSARecord(dane.DANE_EE, 1, 1, b"\xab" * 32),
        "mx-ta.b.test": dane.record_for(ca_der, selector=0, usage=dane.DANE_TA),
        "mx-tabad.b.test": dane.record_for(ca_der, selector=1, usage=dane.DANE_TA),
    }
    for host, r in tlsa.items():
        records[(dane.tlsa_name(host, mx.port), "TLSA")] = [f"{r.usage} {r.selector} {r.mtype} {r.data.hex()}"]
    return records, [dane.tlsa_name(host, mx.port) for host in tlsa]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, mx_net: MXNet) -> Iterator[World]:
    root = tmp_path_factory.mktemp("tlspolicy")
    ca = CertAuthority()
    ca_file = root / "ca.pem"
    ca_file.write_bytes(pem(ca.cert))
    https_port = free_port(mx_net.ip(5))
    b_issued = ca.issue(B_NAMES)
    b_cert, b_key = b_issued.write(root, "mx.b.test", chain=[ca.cert])  # the TA is sent, as DANE-TA requires
    web_cert, web_key = ca.issue([f"mta-sts.{d}" for d in POLICIES]).write(root, "mta-sts")
    records, secure = zones(mx_net, b_issued.der, der(ca.cert))
    signed = [host for host, is_signed in TLSA_FAILING.items() if is_signed]
    dns = DNSServer(records, secure=[*secure, *signed, *REQUIRETLS_SIGNED_MX, *DANE_SIGNED_MX],
                    servfail=[dane.tlsa_name(host, mx_net.port) for host in TLSA_FAILING])
    https = PolicyServer(mx_net.ip(5), https_port, web_cert, web_key, POLICIES)
    b = make_node(root, "b", mx_net.ip(3), mx_net.port, dns, DOMAINS, [f"bob@{d}" for d in DOMAINS])
    with b.config.open("a") as config:
        config.write(f'\n[tls]\ncert = "{b_cert}"\nkey = "{b_key}"\n')
    b.start()
    a = make_node(root, "a", mx_net.ip(2), mx_net.port, dns, ["a.test"], ["alice@a.test"],
                  outbound=f'ca_file = "{ca_file}"\nmta_sts_port = {https_port}')
    a.start()
    yield World(a, b, dns, https)
    a.stop()
    b.stop()
    https.close()
    dns.close()
    for node in (a, b):
        assert "Traceback" not in node.process.log()


def message(to: str) -> bytes:
    return (f"From: alice@a.test\r\nTo: {to}\r\nSubject: to {to}\r\nMessage-ID: <{to}.tls@a.test>\r\n\r\n"
            f"Hello over verified TLS.\r\n").encode()


def delivered(world: World, to: str, timeout: float = 20) -> bytes:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = world.b.messages(to)
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"nothing for {to}:\n{world.a.process.log()}")


def recipient_row(node: Node, address: str) -> tuple[str, int, str]:
    async def row(store: Any) -> tuple[str, int, str]:
        for entry in await store.list_queue():
            for r in entry.recipients:
                if r.address == address:
                    return r.state, r.attempts, r.last_error or ""
        return "", 0, ""
    return run_at(node.data_dir, row)


def deferred(world: World, to: str, timeout: float = 20) -> str:
    """Wait for two failed attempts; the recipient must still be pending and B must have nothing."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state, attempts, error = recipient_row(world.a, to)
        if state == "pending" and attempts >= 2:
            assert world.b.messages(to) == []
            return error
        assert state in ("", "pending"), (state, error)
        time.sleep(0.1)
    raise AssertionError(f"{to}: {recipient_row(world.a, to)}:\n{world.a.process.log()}")


def tls_results(node: Node, domain: str) -> dict[tuple[str, str, str], int]:
    rows = run_at(node.data_dir, lambda store: store.tls_results())
    return {(t, mx, r): c for policy_domain, _day, t, mx, r, c in rows if policy_domain == domain}


def test_enforce_with_a_valid_certificate_delivers(world: World):
    world.a.submit("alice@a.test", ["bob@good.test"], message("bob@good.test"))
    assert b"Hello over verified TLS." in delivered(world, "bob@good.test")
    line = world.a.process.wait_for_log(r"delivery attempt.*recipient=bob@good.test")
    assert "policy=sts" in line and "result=sent" in line and "tls=TLSv1" in line
    assert "good.test" in world.https.requests
    assert tls_results(world.a, "good.test").get(("sts", "mx.b.test", "success"), 0) >= 1


def test_enforce_with_a_certificate_name_mismatch_defers(world: World):
    world.a.submit("alice@a.test", ["bob@badname.test"], message("bob@badname.test"))
    error = deferred(world, "bob@badname.test")
    assert "mx2.b.test" in error and ("hostname" in error.lower() or "certificate" in error.lower())
    assert tls_results(world.a, "badname.test").get(("sts", "mx2.b.test", "certificate-host-mismatch"), 0) >= 1


def test_enforce_with_an_mx_not_in_the_policy_defers(world: World):
    world.a.submit("alice@a.test", ["bob@unlisted.test"], message("bob@unlisted.test"))
    error = deferred(world, "bob@unlisted.test")
    assert "not listed in the MTA-STS policy" in error
    assert tls_results(world.a, "unlisted.test").get(("sts", "mx.b.test", "mx-not-listed"), 0) >= 1


def test_testing_mode_delivers_and_only_reports(world: World):
    world.a.submit("alice@a.test", ["bob@testing.test"], message("bob@testing.test"))
    raw = delivered(world, "bob@testing.test")
    assert b"with ESMTPS" in raw  # still TLS (unverified), not plaintext
    assert tls_results(world.a, "testing.test").get(("sts", "mx2.b.test", "certificate-host-mismatch"), 0) >= 1


def sent(world: World, to: str) -> tuple[bytes, str]:
    """Submit to ``to``; what B received, and A's log line of the delivery attempt."""
    world.a.submit("alice@a.test", [to], message(to))
    raw = delivered(world, to)
    return raw, world.a.process.wait_for_log(rf"delivery attempt.*recipient={to}")


@pytest.mark.parametrize(("domain", "mx"), [
    ("dane.test", "mx-dane.b.test"),  # DANE-EE
    ("ta.test", "mx-ta.b.test"),  # DANE-TA: the chain to the published anchor
    ("cname-ta.test", "mx-cname-ta.b.test"),  # the MX host a validated CNAME of mx-ta.b.test
])
def test_dane_match_delivers(world: World, domain: str, mx: str):
    _, line = sent(world, f"bob@{domain}")
    assert "policy=dane" in line and "result=sent" in line
    assert tls_results(world.a, domain).get(("tlsa", mx, "success"), 0) >= 1


def test_dane_ee_mismatch_defers(world: World):
    world.a.submit("alice@a.test", ["bob@danebad.test"], message("bob@danebad.test"))
    error = deferred(world, "bob@danebad.test")
    assert "TLSA" in error
    assert tls_results(world.a, "danebad.test").get(("tlsa", "mx-danebad.b.test", "tlsa-invalid"), 0) >= 1


def test_dane_ta_with_an_mx_name_not_on_the_certificate_defers(world: World):
    world.a.submit("alice@a.test", ["bob@tabadname.test"], message("bob@tabadname.test"))
    error = deferred(world, "bob@tabadname.test")
    assert "mx-tabad.b.test" in error and "DANE-TA" in error
    results = tls_results(world.a, "tabadname.test")
    assert results.get(("tlsa", "mx-tabad.b.test", "certificate-host-mismatch"), 0) >= 1


def test_tlsa_records_do_not_apply_when_the_mx_rrset_is_not_validated(world: World):
    raw, line = sent(world, "bob@dane-insecure-mx.test")
    assert b"with ESMTPS" in raw and "policy=opportunistic" in line and "result=sent" in line


def test_a_failed_tlsa_lookup_for_a_dnssec_signed_mx_defers(world: World):
    world.a.submit("alice@a.test", ["bob@tlsafail.test"], message("bob@tlsafail.test"))
    error = deferred(world, "bob@tlsafail.test")
    assert "mx-tlsafail.b.test" in error and "TLSA lookup failed" in error


def test_a_failed_tlsa_lookup_for_an_unsigned_mx_means_no_dane(world: World):
    _, line = sent(world, "bob@tlsafail-unsigned.test")
    assert "policy=opportunistic" in line and "result=sent" in line


def dsn_for(world: World, to: str, timeout: float = 20) -> bytes:
    """The bounce alice@a.test got for her message to ``to``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for raw in world.a.messages("alice@a.test"):
            if b"message/delivery-status" in raw and to.encode() in raw:
                return raw
        time.sleep(0.1)
    raise AssertionError(f"no bounce for {to}:\n{world.a.process.log()}")


def test_requiretls_over_a_dnssec_validated_mx_with_a_valid_certificate_delivers(world: World):
    world.a.submit("alice@a.test", ["bob@rtls-dnssec.test"], message("bob@rtls-dnssec.test"), mail=["REQUIRETLS"])
    assert b"Hello over verified TLS." in delivered(world, "bob@rtls-dnssec.test")
    line = world.a.process.wait_for_log(r"delivery attempt.*recipient=bob@rtls-dnssec.test")
    assert "policy=requiretls" in line and "result=sent" in line and "tls=TLSv1" in line


@pytest.mark.parametrize("to", ["bob@rtls-mismatch.test", "bob@rtls-plain.test"])
def test_requiretls_without_a_validated_tls_path_bounces_and_sends_nothing(world: World, to: str):
    world.a.submit("alice@a.test", [to], message(to), mail=["REQUIRETLS"])
    bounce = dsn_for(world, to)
    assert b"Status: 5.7.10" in bounce and b"Action: failed" in bounce
    assert b"text/rfc822-headers" in bounce and b"Hello over verified TLS." not in bounce  # RFC 8689 5: RET=HDRS
    line = world.a.process.wait_for_log(rf"delivery attempt.*recipient={to}")
    assert "result=permanent" in line  # at the first attempt: no other path would appear later
    assert world.b.messages(to) == []
    assert f"recipients={to}" not in world.b.process.log()  # B never saw a transaction for it
