"""The web face's metrics, driven by real work on a real server: web logins, delivery attempts (delivered to
an SMTP sink, bounced by a null MX, deferred by a failing DNS), the queue by state and its oldest entry."""

from __future__ import annotations

import re
import smtplib
import ssl
import time
from collections.abc import Iterator

import pytest
from tests.dnsserver import DNSServer
from tests.outbound.smtpsink import SMTPSink
from tests.web.conftest import ADMIN, ADMIN_PASSWORD, WebServer, start_web_server

SAMPLE = re.compile(r"^(\w+)(?:\{([^}]*)\})? (\S+)$", re.M)


def metrics(web: WebServer) -> dict[tuple[str, str], float]:
    text = web.client().get("/metrics").text
    return {(name, labels or ""): float(value) for name, labels, value in SAMPLE.findall(text)}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[WebServer, SMTPSink]]:
    sink = SMTPSink()
    dns = DNSServer({("ok.test", "MX"): ["10 mx.ok.test."], ("mx.ok.test", "A"): ["127.0.0.1"],
                     ("nullmx.test", "MX"): ["0 ."]}, servfail=["slow.test"])
    extra = (f'\n[dns]\nnameservers = ["{dns.nameserver}"]\ntimeout = 1.0\n\n'
             "[queue]\nretry_first = 3600\npoll_interval = 0.2\n\n"
             f"[outbound]\nsmtp_port = {sink.port}\nmta_sts = false\n")
    web = start_web_server(tmp_path_factory.mktemp("metrics"), extra)
    try:
        yield web, sink
    finally:
        web.server.stop()
        sink.close()
        dns.close()


def submit(web: WebServer, recipients: list[str], subject: str) -> None:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", web.server.port("submission"), timeout=30) as smtp:
        smtp.starttls(context=context)
        smtp.login(ADMIN, ADMIN_PASSWORD)
        smtp.sendmail(ADMIN, recipients, f"From: {ADMIN}\r\nSubject: {subject}\r\n\r\nhello\r\n".encode())


def wait_for(web: WebServer, wanted: dict[tuple[str, str], float], timeout: float = 60) -> dict[tuple[str, str], float]:
    deadline = time.monotonic() + timeout
    while True:
        found = metrics(web)
        if all(found.get(key, 0) >= value for key, value in wanted.items()) or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_queue_and_delivery_metrics(world: tuple[WebServer, SMTPSink]) -> None:
    web, sink = world
    before = metrics(web)
    submit(web, ["a@ok.test", "b@nullmx.test", "c@slow.test"], "three ways")
    attempts = {("pillarbox_outbound_attempts_total", f'result="{result}"'): 1 for result in
                ("delivered", "bounced", "deferred")}
    found = wait_for(web, attempts)
    for key in attempts:
        assert found.get(key, 0) - before.get(key, 0) == 1, (key, found)
    assert [m.recipients for m in sink.messages] == [["a@ok.test"]]

    admin, csrf = web.login(ADMIN, ADMIN_PASSWORD)
    submit(web, ["d@slow.test"], "held")
    entries = admin.get("/api/v1/queue").json()
    held = next(e["id"] for e in entries if [r["address"] for r in e["recipients"]] == ["d@slow.test"])
    assert admin.post(f"/api/v1/queue/{held}/hold", headers={"X-CSRF-Token": csrf}).status_code == 200
    found = metrics(web)
    # the first entry keeps c (pending, retried in an hour) beside b (failed); a's copy is done
    assert found[("pillarbox_queue_recipients", 'state="pending"')] == 1
    assert found[("pillarbox_queue_recipients", 'state="failed"')] == 1
    assert found[("pillarbox_queue_recipients", 'state="held"')] == 1
    created = min(e["created"] for e in entries)
    assert 0 <= found[("pillarbox_queue_oldest_seconds", "")] < 3600, created


def test_web_login_metrics(world: tuple[WebServer, SMTPSink]) -> None:
    web, _ = world
    key = "pillarbox_web_logins_total"
    before = metrics(web)
    client = web.tls_client()
    for password in ("wrong-1", "wrong-2"):
        assert client.post("/api/v1/session", json={"address": ADMIN, "password": password}).status_code == 401
    assert client.post("/login", data={"address": ADMIN, "password": "wrong-3"}).status_code == 401
    web.login(ADMIN, ADMIN_PASSWORD)
    found = metrics(web)
    assert found[(key, 'result="failure"')] - before.get((key, 'result="failure"'), 0) == 3
    assert found[(key, 'result="success"')] - before.get((key, 'result="success"'), 0) == 1
