"""Forwarding and a vacation answer set on the account's page and through the API are generated Sieve
that delivery runs: mail from the MX is kept, forwarded with an SRS sender and answered once; cleared,
they stop."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator

import httpx
import pytest
from tests.server_process import stored_messages
from tests.web.conftest import ADMIN, ADMIN_PASSWORD, USER, USER_PASSWORD, WebServer, web_server_with_dns

# No SPF or DMARC anywhere (mail accepted to the INBOX); the MX hosts of the other domains listen on
# nothing, so what goes out waits in the queue where the test can see it.
ZONES = {("sender.test", "MX"): ["10 mx.sender.test."], ("mx.sender.test", "A"): ["127.0.0.9"],
         ("far.test", "MX"): ["10 mx.far.test."], ("mx.far.test", "A"): ["127.0.0.9"]}


def mail(subject: str) -> bytes:
    return (f"From: Alice <alice@sender.test>\r\nTo: {USER}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '.')}@sender.test>\r\n\r\nHello Bob.\r\n").encode()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    with web_server_with_dns(tmp_path_factory.mktemp("filters"), ZONES) as web:
        yield web


def logged_in(server: WebServer, address: str, password: str) -> httpx.Client:
    client, csrf = server.login(address, password)
    client.headers["X-CSRF-Token"] = csrf
    return client


def send(server: WebServer, subject: str) -> None:
    with smtplib.SMTP("127.0.0.1", server.server.port("smtp"), timeout=60) as smtp:
        smtp.sendmail("alice@sender.test", [USER], mail(subject))


def queued(admin: httpx.Client) -> list[tuple[str, list[str]]]:
    return sorted((e["sender"], [r["address"] for r in e["recipients"]]) for e in admin.get("/api/v1/queue").json())


def test_forward_and_vacation_from_the_api_then_cleared_on_the_page(server: WebServer) -> None:
    bob, admin = logged_in(server, USER, USER_PASSWORD), logged_in(server, ADMIN, ADMIN_PASSWORD)
    assert bob.put("/api/v1/account/forward", json={"to": "carol@far.test", "keep": True}).status_code == 200
    answer = bob.put("/api/v1/account/vacation", json={"enabled": True, "subject": "Away", "text": "Back Monday.",
                                                       "days": 3})
    assert answer.json()["vacation"] == {"subject": "Away", "text": "Back Monday.", "days": 3}
    overview = bob.get("/api/v1/account").json()
    assert overview["forward"] == {"to": "carol@far.test", "keep": True} and overview["vacation"]["days"] == 3

    send(server, "first")
    send(server, "second")  # answered once: one vacation reply per sender per :days
    assert len(stored_messages(server.config.parent / "data", USER)) == 2  # the copy kept here
    entries = queued(admin)
    forwarded = [sender for sender, recipients in entries if recipients == ["carol@far.test"]]
    assert len(forwarded) == 2 and all(s.startswith("SRS0=") and s.endswith("@example.com") for s in forwarded)
    assert [e for e in entries if e[1] == ["alice@sender.test"]] == [("", ["alice@sender.test"])]

    page = bob.get("/account").text
    assert 'value="carol@far.test"' in page and 'name="days" type="number" min="1" max="365" value="3"' in page
    csrf = bob.headers["X-CSRF-Token"]
    assert bob.post("/account/forward", data={"to": "", "csrf": csrf}).status_code in (200, 303)
    assert bob.post("/account/vacation", data={"subject": "Away", "text": "", "csrf": csrf}).status_code in (200, 303)
    assert bob.get("/api/v1/account").json()["forward"] is None
    send(server, "third")
    assert len(stored_messages(server.config.parent / "data", USER)) == 3
    assert queued(admin) == entries  # neither forwarded nor answered any more


def test_forward_without_a_copy_from_the_page(server: WebServer) -> None:
    bob = logged_in(server, USER, USER_PASSWORD)
    before = len(stored_messages(server.config.parent / "data", USER))
    answer = bob.post("/account/forward", data={"to": "dave@far.test", "csrf": bob.headers["X-CSRF-Token"]})
    assert answer.status_code in (200, 303), answer.text[:300]
    send(server, "fourth")
    assert len(stored_messages(server.config.parent / "data", USER)) == before  # redirect alone: no copy here
    admin = logged_in(server, ADMIN, ADMIN_PASSWORD)
    assert any(recipients == ["dave@far.test"] for _, recipients in queued(admin))
    bob.put("/api/v1/account/forward", json={"to": None})


def test_vacation_days_out_of_range_is_the_fields_error(server: WebServer) -> None:
    bob = logged_in(server, USER, USER_PASSWORD)
    refused = bob.put("/api/v1/account/vacation", json={"enabled": True, "text": "Away.", "days": 0})
    assert refused.status_code == 422 and refused.json()["field"] == "days"
    for days in ("many", "0"):
        form = bob.post("/account/vacation", data={"enabled": "on", "text": "Away.", "days": days,
                                                   "csrf": bob.headers["X-CSRF-Token"]})
        assert form.status_code == 422 and 'data-field="days"' in form.text
