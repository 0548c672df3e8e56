"""Autoconfiguration from the configured listeners, and hostile form input (the field's error, never a
500; markup shown as text)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx
import pytest
from tests.server_process import pillarbox
from tests.web.conftest import ADMIN, ADMIN_PASSWORD, USER, WebServer

POX = (b'<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/'
       b'autodiscover/outlook/requestschema/2006"><Request><EMailAddress>bob@example.com</EMailAddress>'
       b"<AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
       b"</AcceptableResponseSchema></Request></Autodiscover>")


def test_thunderbird_autoconfig(web: WebServer) -> None:
    client = web.client()
    for answer in (client.get("/mail/config-v1.1.xml", params={"emailaddress": "bob@example.com"}),
                   client.get("/.well-known/autoconfig/mail/config-v1.1.xml",
                              headers={"Host": "autoconfig.example.com"})):
        root = ET.fromstring(answer.content)
        servers = {(s.get("type"), s.findtext("socketType")): (s.findtext("hostname"), int(s.findtext("port") or 0))
                   for s in root.iter() if s.tag in ("incomingServer", "outgoingServer")}
        assert servers[("imap", "SSL")] == ("mx.test", web.server.port("imaps"))
        assert servers[("pop3", "STARTTLS")] == ("mx.test", web.server.port("pop3"))
        assert servers[("smtp", "SSL")] == ("mx.test", web.server.port("submissions"))
    assert client.get("/mail/config-v1.1.xml", params={"emailaddress": "x@elsewhere.test"}).status_code == 404


def test_autodiscover_pox(web: WebServer) -> None:
    answer = web.client().post("/autodiscover/autodiscover.xml", content=POX, headers={"Content-Type": "text/xml"})
    assert answer.status_code == 200, answer.text
    root = ET.fromstring(answer.content)
    protocols = {p.findtext("{*}Type"): p for p in root.findall(".//{*}Protocol")}
    assert int(protocols["IMAP"].findtext("{*}Port") or 0) == web.server.port("imaps")
    assert int(protocols["SMTP"].findtext("{*}Port") or 0) == web.server.port("submissions")
    assert protocols["IMAP"].findtext("{*}LoginName") == "bob@example.com"
    bomb = b'<!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><x>&b;</x>'
    assert web.client().post("/autodiscover/autodiscover.xml", content=bomb).status_code == 400


def test_srv_records_match_the_listeners(web: WebServer, admin: tuple[httpx.Client, str]) -> None:
    records = admin[0].get("/api/v1/domains/example.com/records").json()["records"]
    for name in ("imaps", "imap", "pop3s", "pop3", "submissions", "submission"):
        srv = next(r for r in records if r.startswith(f"_{name}._tcp.example.com. "))
        assert srv.split()[-2:] == [str(web.server.port(name)), "mx.test."]
    assert any(r.startswith("_mta-sts.example.com.") for r in records)


def test_dns_names_only_what_is_configured(tmp_path) -> None:
    from pillarbox.admin.ops_outbound import dns_records
    from pillarbox.config import load_config

    path = tmp_path / "p.toml"
    path.write_text('hostname = "mx.test"\n[listen]\nsmtp = ["0.0.0.0:25"]\nimaps = ["0.0.0.0:10993"]\n'
                    'submission = ["0.0.0.0:2587"]\n')
    zone = dns_records("example.com", load_config(path), [])
    assert "_imaps._tcp.example.com. 3600 IN SRV 0 1 10993 mx.test." in zone
    assert "_submission._tcp.example.com. 3600 IN SRV 10 1 2587 mx.test." in zone
    assert "_pop3._tcp.example.com. 3600 IN SRV 0 0 0 ." in zone  # RFC 6186 3.4: not offered
    assert not any("mta-sts" in line or "autoconfig" in line for line in zone)  # no https listener


def test_reports_to_names_the_rua_address(tmp_path) -> None:
    from pillarbox.admin.ops_outbound import dns_records
    from pillarbox.config import load_config
    from pillarbox.policy.received.intake import ReportIntake

    path = tmp_path / "p.toml"
    path.write_text('hostname = "mx.test"\n[policy]\nreports_to = "DMARC-Reports"\n')
    config = load_config(path)
    zone = dns_records("example.com", config, [])
    assert '_dmarc.example.com. 3600 IN TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@example.com"' in zone
    assert '_smtp._tls.example.com. 3600 IN TXT "v=TLSRPTv1; rua=mailto:dmarc-reports@example.com"' in zone
    intake = ReportIntake(None, config.policy.reports_to, config.policy.received_report_max_size)  # type: ignore[arg-type]
    assert intake.wants(["bob@example.com", "DMARC-reports@Example.com"]) and not intake.wants(["postmaster@x.test"])


@pytest.fixture(scope="module")
def admin(web: WebServer) -> tuple[httpx.Client, str]:
    return web.login(ADMIN, ADMIN_PASSWORD)


@pytest.mark.parametrize(("path", "form", "field"), [
    ("/admin/users", {"address": "no-at-sign", "password": "long-enough-1"}, "address"),
    ("/admin/users", {"address": "h@example.com", "password": "x"}, "password"),
    ("/admin/domains", {"domain": "bad..name"}, "domain"),
    ("/admin/aliases", {"address": "a@example.com", "targets": ""}, "targets"),
    ("/admin/users/bob@example.com/quota", {"quota_mib": "lots"}, "quota_mib"),
    ("/account/forward", {"to": "not an address"}, "to"),
    ("/account/vacation", {"enabled": "on", "text": ""}, "text"),
    ("/account/app-passwords", {"name": "x" * 100}, "name"),
    ("/account/password", {"current": "wrong", "password": "whatever-1"}, "current"),
])
def test_hostile_forms_answer_with_the_field_error(admin: tuple[httpx.Client, str], path: str, form: dict,
                                                   field: str) -> None:
    client, csrf = admin
    answer = client.post(path, data={**form, "csrf": csrf})
    assert answer.status_code == 422, answer.text[:300]
    assert f'data-field="{field}"' in answer.text
    assert "<script>@" not in answer.text


MARKUP = "<b>x</b>@example.com"


@pytest.mark.parametrize(("path", "form", "field"), [
    ("/admin/users", {"address": MARKUP, "password": "long-enough-1"}, "address"),
    ("/admin/domains", {"domain": "markup.test", "postmaster": MARKUP}, "postmaster"),
    ("/admin/aliases", {"address": MARKUP, "targets": USER}, "address"),
    ("/admin/aliases", {"address": "ok@example.com", "targets": f"{USER} {MARKUP}"}, "targets"),
    ("/account/forward", {"to": "a b@elsewhere.test"}, "to"),
])
def test_markup_is_no_address_in_forms(admin: tuple[httpx.Client, str], path: str, form: dict, field: str) -> None:
    """RFC 5321 4.1.2 Mailbox wherever an address is created: the field's error, nothing stored."""
    client, csrf = admin
    answer = client.post(path, data={**form, "csrf": csrf})
    assert answer.status_code == 422 and f'data-field="{field}"' in answer.text, answer.text[:300]
    assert "<b>x</b>" not in answer.text and "<b>x</b>" not in client.get("/admin/users").text


@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("POST", "/api/v1/users", {"address": MARKUP, "password": "long-enough-1"}, "address"),
    ("POST", "/api/v1/aliases", {"address": "list@example.com", "targets": ["x(y)@elsewhere.test"]}, "targets"),
    ("POST", f"/api/v1/users/{USER}/senders", {"sender": "<a>@example.com"}, "sender"),
    ("PUT", "/api/v1/domains/example.com/postmaster", {"address": "a..b@example.com"}, "address"),
    ("PUT", "/api/v1/account/forward", {"to": "[x]@elsewhere.test"}, "to"),
])
def test_markup_is_no_address_in_the_api(admin: tuple[httpx.Client, str], method: str, path: str, body: dict,
                                         field: str) -> None:
    client, csrf = admin
    answer = client.request(method, path, json=body, headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 422 and answer.json()["field"] == field, answer.text


def test_markup_is_no_address_in_the_cli(web: WebServer) -> None:
    for args in (("user", "add", MARKUP, "--password-stdin"), ("alias", "add", "x@example.com", MARKUP),
                 ("user", "grant", USER, "a b@example.com")):
        result = pillarbox(web.config, *args, input=b"long-enough-1\n", check=False)
        assert result.returncode != 0 and b"Traceback" not in result.stderr
        assert len(result.stderr.decode().strip().splitlines()) == 1 and b"not a mail address" in result.stderr
    assert "<b>" not in web.cli("user", "list") + web.cli("alias", "list")


def test_markup_in_a_report_is_text(web: WebServer, admin: tuple[httpx.Client, str]) -> None:
    import asyncio

    from pillarbox.store.sqlite.store import SQLiteStore

    async def add() -> None:
        store = SQLiteStore.open(web.config.parent / "data")
        try:
            await store.add_received_report("dmarc", "<script>evil</script>", "r1", "example.com", 0, 2**40, [
                {"day": "2026-01-01", "source_ip": "192.0.2.1", "count": 3, "disposition": "none",
                 "dkim": "fail", "spf": "fail", "header_from": "<script>x</script>"}])
        finally:
            await store.close()

    asyncio.run(add())
    page = admin[0].get("/admin/reports").text
    assert "&lt;script&gt;evil&lt;/script&gt;" in page and "<script>" not in page
