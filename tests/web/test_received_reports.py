"""Reports other domains mail to our rua address, over SMTP to a real server: read into the JSON API
and the reports page, the mail itself delivered as usual; bombs and hostile XML refused with a log line."""

from __future__ import annotations

import gzip
import io
import smtplib
import time
import zipfile
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import httpx
import pytest
from tests.server_process import stored_messages
from tests.web.conftest import ADMIN, ADMIN_PASSWORD, USER, WebServer, web_server_with_dns

FIXTURES = Path(__file__).parents[1] / "policy" / "reports"
RUA = "postmaster@example.com"  # what `pillarbox dns` publishes (the first user, ADMIN, reads it)
DAY = 86400
YESTERDAY = int(time.time()) // DAY * DAY - DAY  # dates relative to now: the page shows the last 30 days
MiB = 1024 * 1024


def dated(name: str) -> bytes:
    """A fixture moved to yesterday (its days relative to its first)."""
    data = (FIXTURES / name).read_bytes()
    for old_day, shift in ((b"2025-12-31", -DAY), (b"2026-01-01", 0)):
        data = data.replace(old_day, datetime.fromtimestamp(YESTERDAY + shift, UTC).strftime("%Y-%m-%d").encode())
    for old, new in ((1767139200, YESTERDAY - DAY), (1767225600, YESTERDAY)):
        data = data.replace(str(old).encode(), str(new).encode()).replace(str(old + 86399).encode(),
                                                                          str(new + 86399).encode())
    return data


def zipped(*members: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def report_mail(sender: str, subject: str, attachments: list[tuple[str, str, bytes]], *,
                alone: bool = False, report_type: str = "") -> bytes:
    """Google sends the zip as the whole message (``alone``), Microsoft as an attachment to a text."""
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, RUA, subject
    mail["Message-ID"] = f"<{abs(hash(subject))}@reporter.test>"
    if alone:
        ((kind, name, data),) = attachments
        maintype, subtype = kind.split("/")
        mail.set_content(data, maintype=maintype, subtype=subtype, filename=name)
        return mail.as_bytes(policy=SMTP)
    mail.set_content(f"This is a report ({subject}).\n")
    for kind, name, data in attachments:
        maintype, subtype = kind.split("/")
        mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    if report_type:
        mail.set_type("multipart/report")
        mail.set_param("report-type", report_type)
    return mail.as_bytes(policy=SMTP)


def gzip_bomb() -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return b"".join(compressor.compress(bytes(MiB)) for _ in range(512)) + compressor.flush()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    # every reporter's domain is NXDOMAIN: no SPF, no DMARC, mail accepted to the INBOX
    with web_server_with_dns(tmp_path_factory.mktemp("reports"), {}) as web:
        yield web


@pytest.fixture(scope="module")
def admin(server: WebServer) -> httpx.Client:
    client, csrf = server.login(ADMIN, ADMIN_PASSWORD)
    client.headers["X-CSRF-Token"] = csrf
    return client


def send(server: WebServer, sender: str, raw: bytes, to: str = RUA) -> None:
    with smtplib.SMTP("127.0.0.1", server.server.port("smtp"), timeout=60) as smtp:
        smtp.sendmail(sender, [to], raw)


def test_reports_reach_the_api_and_the_page(server: WebServer, admin: httpx.Client) -> None:
    google_begin = YESTERDAY
    send(server, "noreply-dmarc-support@google.com", report_mail(
        "noreply-dmarc-support@google.com", "Report domain: example.com Submitter: google.com",
        [("application/zip", f"google.com!example.com!{google_begin}!{google_begin + 86399}.zip",
          zipped(("google.com!example.com.xml", dated("google.xml"))))], alone=True))
    send(server, "dmarcreport@microsoft.com", report_mail(
        "dmarcreport@microsoft.com", "Report Domain: example.com Submitter: protection.outlook.com",
        [("application/gzip", "enterprise.protection.outlook.com!example.com!x!y.xml.gz",
          gzip.compress(dated("microsoft.xml")))]))
    send(server, "dmarchelp@yahooinc.com", report_mail(
        "dmarchelp@yahooinc.com", "Report Domain: news.example.com",
        [("text/xml", "yahoo.xml", dated("dmarcbis.xml"))]))
    send(server, "smtp-tls-reporting@google.com", report_mail(
        "smtp-tls-reporting@google.com", "Report Domain: example.com Submitter: google.com",
        [("application/tlsrpt+gzip", "google.com!example.com!x!y.json.gz", gzip.compress(dated("google-tlsrpt.json")))],
        report_type="tlsrpt"))

    dmarc = admin.get("/api/v1/reports/dmarc").json()
    by_reporter = {r["reporter"]: r for r in dmarc}
    assert set(by_reporter) == {"google.com", "Enterprise Outlook", "mail.yahoo.net"}
    google = by_reporter["google.com"]
    assert google["domain"] == "example.com" and google["begin"].startswith(
        datetime.fromtimestamp(google_begin, UTC).strftime("%Y-%m-%d"))
    assert [(r["source_ip"], r["count"], r["dkim"], r["spf"]) for r in google["rows"]] == [
        ("192.0.2.25", 41, "pass", "pass"), ("203.0.113.77", 3, "fail", "fail")]
    assert by_reporter["mail.yahoo.net"]["domain"] == "news.example.com"  # a subdomain of ours counts
    (tls,) = admin.get("/api/v1/reports/tlsrpt").json()
    assert [(r["domain"], r["successful"], r["failed"]) for r in tls["rows"]] == [("example.com", 5326, 303)]

    page = admin.get("/admin/reports").text
    for text in ("192.0.2.25", "203.0.113.77", "2001:db8::25", "Enterprise Outlook", "certificate-expired ×100",
                 "5326"):
        assert text in page
    assert "unrelated.example" not in page  # the TLS report's policy about a domain not ours is left out
    assert len(stored_messages(server.config.parent / "data", ADMIN)) == 4  # the mails themselves, as usual
    assert server.server.wait_for_log(r'msg="report received".*kind=tlsrpt')


def test_a_report_sent_again_is_kept_once(server: WebServer, admin: httpx.Client) -> None:
    raw = report_mail("noreply-dmarc-support@google.com", "again",
                      [("application/gzip", "again.xml.gz", gzip.compress(dated("google.xml").replace(
                          b"17693487029384756102", b"again-1")))])
    send(server, "noreply-dmarc-support@google.com", raw)
    send(server, "noreply-dmarc-support@google.com", raw)
    assert [r["report_id"] for r in admin.get("/api/v1/reports/dmarc").json()].count("again-1") == 1
    server.server.wait_for_log(r'msg="report received again".*report_id=again-1')


BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE feedback [<!ENTITY a "aaaaaaaaaa">'
                  b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><feedback><report_metadata>'
                  b"<org_name>&b;</org_name></report_metadata></feedback>")


@pytest.mark.parametrize(("name", "attachment", "reason"), [
    ("gzip-bomb", ("application/gzip", "bomb.xml.gz", gzip_bomb()), "compression bomb"),
    ("zip-bomb", ("application/zip", "bomb.zip", zipped(("a.xml", bytes(40 * MiB)))), "compression bomb"),
    ("zip-members", ("application/zip", "many.zip", zipped(*((f"r{i}.xml", b"<feedback/>") for i in range(9)))),
     "more than 8 members"),
    ("entities", ("text/xml", "laughs.xml", BILLION_LAUGHS), "without a DTD"),
    ("malformed", ("application/gzip", "cut.xml.gz", gzip.compress(b"<feedback><report_metadata><org")),
     "not well-formed"),
])
def test_hostile_reports_are_refused_and_the_mail_kept(server: WebServer, admin: httpx.Client, name: str,
                                                       attachment: tuple[str, str, bytes], reason: str) -> None:
    before = len(stored_messages(server.config.parent / "data", ADMIN))
    send(server, "attacker@hostile.test", report_mail("attacker@hostile.test", name, [attachment]))
    assert len(stored_messages(server.config.parent / "data", ADMIN)) == before + 1
    line = server.server.wait_for_log(rf'msg="report refused".*file={attachment[1]}')
    assert reason in line


def test_markup_in_a_report_is_shown_as_text(server: WebServer, admin: httpx.Client) -> None:
    hostile = dated("google.xml").replace(b"<org_name>google.com</org_name>",
                                          b"<org_name>&lt;script&gt;alert(1)&lt;/script&gt;</org_name>")
    hostile = hostile.replace(b"<header_from>example.com</header_from>",
                              b"<header_from><![CDATA[<img src=x onerror=alert(2)>]]></header_from>", 1)
    send(server, "attacker@hostile.test", report_mail("attacker@hostile.test", "markup", [
        ("application/gzip", "markup.xml.gz", gzip.compress(hostile.replace(b"17693487029384756102", b"markup")))]))
    assert "<script>alert(1)</script>" in [r["reporter"] for r in admin.get("/api/v1/reports/dmarc").json()]
    page = admin.get("/admin/reports").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "<script>alert" not in page and "<img src=x" not in page


def test_a_report_about_someone_else_is_ignored(server: WebServer, admin: httpx.Client) -> None:
    other = dated("google.xml").replace(b"<domain>example.com</domain>", b"<domain>victim.test</domain>", 1)
    send(server, "attacker@hostile.test", report_mail("attacker@hostile.test", "not ours", [
        ("application/gzip", "other.xml.gz", gzip.compress(other.replace(b"17693487029384756102", b"other")))]))
    server.server.wait_for_log(r'msg="report about no domain of ours ignored".*domains=victim.test')
    assert "other" not in [r["report_id"] for r in admin.get("/api/v1/reports/dmarc").json()]


def test_reports_to_other_addresses_are_only_mail(server: WebServer, admin: httpx.Client) -> None:
    send(server, "noreply-dmarc-support@google.com", report_mail(
        "noreply-dmarc-support@google.com", "to bob", [("application/gzip", "bob.xml.gz", gzip.compress(
            dated("google.xml").replace(b"17693487029384756102", b"to-bob")))]), to=USER)
    assert "to-bob" not in [r["report_id"] for r in admin.get("/api/v1/reports/dmarc").json()]


def test_reports_api_refusals(admin: httpx.Client, server: WebServer) -> None:
    assert admin.get("/api/v1/reports/spam").status_code == 422
    assert admin.get("/api/v1/reports/dmarc", params={"days": 0}).json()["field"] == "days"
    user, _ = server.login(USER, "bob-secret-12")
    assert user.get("/api/v1/reports/dmarc").status_code == 403
