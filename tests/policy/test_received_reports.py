"""Reports other domains send us: the fixtures of real reporters' shapes, our own reports read back
(properties), and hostile files refused with a reason."""

from __future__ import annotations

import contextlib
import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pillarbox.mailauth.dmarc import parse_record
from pillarbox.policy import dmarc_reports
from pillarbox.policy.received.intake import find_reports, parse_file
from pillarbox.policy.received.model import MAX_TEXT, ReportRefused
from pillarbox.queue import tlsrpt

FIXTURES = Path(__file__).parent / "reports"
DAY = "2026-01-01"
BEGIN = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_google_aggregate() -> None:
    report = parse_file(fixture("google.xml"))
    assert (report.kind, report.reporter, report.report_id, report.domains) == (
        "dmarc", "google.com", "17693487029384756102", ("example.com",))
    assert (report.begin, report.end) == (BEGIN, BEGIN + 86399)
    first, second = report.rows
    assert first == {"day": DAY, "source_ip": "192.0.2.25", "count": 41, "disposition": "none", "dkim": "pass",
                     "spf": "pass", "reasons": "", "header_from": "example.com", "envelope_from": "",
                     "dkim_results": "example.com:pass example.com:pass", "spf_results": "example.com:pass"}
    assert (second["source_ip"], second["count"], second["disposition"]) == ("203.0.113.77", 3, "quarantine")


def test_microsoft_aggregate_with_reasons_and_envelope() -> None:
    (row,) = parse_file(fixture("microsoft.xml")).rows
    assert row["day"] == "2025-12-31" and row["source_ip"] == "2001:db8::25"
    assert (row["reasons"], row["envelope_from"], row["spf_results"]) == ("forwarded", "lists.example",
                                                                          "lists.example:fail")


def test_namespaced_aggregate() -> None:
    report = parse_file(fixture("dmarcbis.xml"))
    assert report.domains == ("news.example.com",) and report.rows[0]["disposition"] == "reject"


def test_google_tls_report() -> None:
    report = parse_file(fixture("google-tlsrpt.json"))
    assert (report.kind, report.reporter, report.domains) == ("tlsrpt", "Google Inc.",
                                                              ("example.com", "unrelated.example"))
    assert report.rows[0] == {
        "day": DAY, "domain": "example.com", "policy_type": "sts", "mx": "mx.example.com", "successful": 5326,
        "failed": 303, "failures": "certificate-expired ×100, starttls-not-supported ×200, validation-failure ×3"}
    assert report.rows[1]["policy_type"] == "no-policy-found" and report.rows[1]["failures"] == ""


# -- our own reports, read back --------------------------------------------------------------------------------

ips = st.ip_addresses().map(str)
observations = st.fixed_dictionaries({
    "source_ip": ips, "count": st.integers(0, 10**9), "disposition": st.sampled_from(["none", "quarantine", "reject"]),
    "dkim_aligned": st.booleans(), "spf_aligned": st.booleans(),
    "header_from": st.from_regex(r"[a-z]{1,10}\.(test|example)", fullmatch=True),
    "spf_result": st.sampled_from(["pass", "fail", "softfail", "none"]),
})


@settings(max_examples=60)
@given(st.lists(observations, min_size=1, max_size=20))
def test_our_dmarc_report_mail_reads_back(rows: list[dict[str, object]]) -> None:
    meta = dmarc_reports.ReportMeta("mx.sender.test", "example.com", DAY)
    record = parse_record("v=DMARC1; p=reject; rua=mailto:postmaster@example.com")
    xml = dmarc_reports.build_xml(meta, record, [{**r, "spf_domain": "example.com"} for r in rows])
    (found,) = find_reports(dmarc_reports.build_mail(meta, xml, "postmaster@example.com", BEGIN), 1 << 20)
    assert found.report is not None and found.report.report_id == meta.report_id
    assert [(r["source_ip"], r["count"], r["disposition"], r["header_from"]) for r in found.report.rows] == [
        (r["source_ip"], r["count"], r["disposition"], r["header_from"]) for r in rows]
    assert [r["dkim"] == "pass" for r in found.report.rows] == [r["dkim_aligned"] for r in rows]


@settings(max_examples=60)
@given(st.dictionaries(st.sampled_from(["success", "certificate-expired", "starttls-not-supported", "mx-not-listed"]),
                       st.integers(1, 10**6), min_size=1))
def test_our_tls_report_mail_reads_back(results: dict[str, int]) -> None:
    meta = tlsrpt.ReportMeta("mx.sender.test", "example.com", DAY)
    group = tlsrpt.PolicyGroup("sts", ["mx.example.com"], ["version: STSv1", "mode: enforce"])
    for result, count in results.items():
        group.add("mx.example.com", result, count)
    mail = tlsrpt.build_mail(meta, tlsrpt.build_report(meta, [group]), "postmaster@example.com", BEGIN)
    (found,) = find_reports(mail, 1 << 20)
    assert found.report is not None and found.report.kind == "tlsrpt"
    (row,) = found.report.rows
    assert row["successful"] == results.get("success", 0)
    assert row["failed"] == sum(n for r, n in results.items() if r != "success")


# -- hostile files ------------------------------------------------------------------------------------------------

BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE feedback [<!ENTITY a "aaaaaaaaaa">'
                  b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
                  b"<feedback><report_metadata><org_name>&c;</org_name></report_metadata></feedback>")
EXTERNAL = (b'<?xml version="1.0"?><!DOCTYPE feedback [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b"<feedback><report_metadata><org_name>&x;</org_name></report_metadata></feedback>")


def google_with(old: bytes, new: bytes) -> bytes:
    return fixture("google.xml").replace(old, new, 1)


@pytest.mark.parametrize(("data", "reason"), [
    (BILLION_LAUGHS, "without a DTD"),
    (EXTERNAL, "without a DTD"),
    (b"<feedback><report_metadata>", "not well-formed"),
    (b"<html><script>alert(1)</script></html>", "not <feedback>"),
    (b"<feedback>" + b"<x>" * 50 + b"</x>" * 50 + b"</feedback>", "nested too deep"),
    (b"<feedback><record>" + b"<x/>" * 1000 + b"</record></feedback>", "too many elements"),
    (google_with(b"<count>41</count>", b"<count>many</count>"), "count: not a whole number"),
    (google_with(b"<count>41</count>", b"<count>-4</count>"), "count: not a whole number"),
    (google_with(b"<begin>1767225600</begin>", b"<begin>1867225600</begin>"), "date range"),
    (google_with(b"<org_name>google.com</org_name>", b""), "no org_name"),
    (google_with(b"<source_ip>192.0.2.25</source_ip>", b""), "without source_ip"),
    (b"<feedback><record><row/></record></feedback>", "before report_metadata"),
    (b"[" * 100_000 + b"]" * 100_000, "neither XML nor JSON"),
    (b"{" + b'"a":[' * 100_000 + b"]" * 100_000 + b"}", "not JSON"),
    (b'{"organization-name": "x", "report-id": "y", "date-range": []}', "date-range: not a JSON object"),
    (json.dumps({"organization-name": "x", "report-id": "y", "date-range": {
        "start-datetime": "yesterday", "end-datetime": "today"}}).encode(), "not an RFC 3339 date-time"),
    (fixture("google-tlsrpt.json").replace(b"5326", b'"lots"'), "not a whole number"),
    (fixture("google-tlsrpt.json").replace(b'"policies": [', b'"policies": [7, '), "not a JSON object"),
])
def test_hostile_reports_are_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(ReportRefused, match=reason):
        parse_file(data)


def test_too_many_records() -> None:
    records = fixture("google.xml").split(b"<record>", 1)[1].rsplit(b"</feedback>", 1)[0]
    with pytest.raises(ReportRefused, match="more than 3 records"):
        parse_file(google_with(b"</feedback>", (b"<record>" + records) * 2 + b"</feedback>"), max_records=3)


def test_markup_in_fields_stays_text_and_long_fields_are_clipped() -> None:
    data = google_with(b"<org_name>google.com</org_name>", b"<org_name>&lt;script&gt;alert(1)&lt;/script&gt;"
                       + b"x" * 1000 + b"</org_name>")
    report = parse_file(data)
    assert report.reporter.startswith("<script>alert(1)</script>") and len(report.reporter) == MAX_TEXT


@settings(max_examples=200)
@given(st.binary(max_size=400))
def test_any_bytes_are_a_report_or_a_refusal(noise: bytes) -> None:
    for data in (noise, b"<feedback>" + noise, b"{" + noise, gzip.compress(noise)):
        with contextlib.suppress(ReportRefused):
            parse_file(data)


def test_mail_without_reports_finds_nothing() -> None:
    mail = (b"From: a@b.test\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n"
            b"--x\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
            b"--x\r\nContent-Type: application/octet-stream\r\n\r\n\x00\x01binary\r\n--x--\r\n")
    assert find_reports(mail, 1 << 20) == []
