"""DMARC aggregate reports: XML fields from recorded observations, rua parsing, 7.1 verification."""

from __future__ import annotations

import email
import gzip
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import Message
from xml.etree import ElementTree as ET

import pytest

from pillarbox.daily import seconds_until_next_run
from pillarbox.dns.fake import TEMPFAIL, FakeResolver
from pillarbox.policy.dmarc_reports import (
    Destination,
    DMARCReporter,
    DMARCReportTask,
    destinations,
    parse_mailto,
)
from pillarbox.policy.inbound import DMARCObservation
from pillarbox.policy.reports import StoreDMARCRecorder
from pillarbox.store.sqlite.store import SQLiteStore
from tests.conftest import StoreTest

HOST = "mx.pillarbox.test"


def observation(ip: str = "192.0.2.1", result: str = "pass", **changes: object) -> DMARCObservation:
    fields: dict[str, object] = dict(
        policy_domain="example.com", header_from="example.com", source_ip=ip, envelope_from="example.com",
        spf_domain="example.com", spf_result="pass", dkim=(("example.com", "pass"), ("esp.test", "fail")),
        dmarc_result=result, spf_aligned=True, dkim_aligned=True, disposition="none", policy="reject",
    )
    fields.update(changes)
    return DMARCObservation(**fields)  # type: ignore[arg-type]


class Outbox:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    async def __call__(self, to: str, raw: bytes) -> None:
        self.sent.append((to, raw))


def _attachment(raw: bytes) -> tuple[Message, ET.Element]:
    mail = email.message_from_bytes(raw)
    parts = [p for p in mail.walk() if p.get_content_type() == "application/gzip"]
    assert len(parts) == 1
    xml = gzip.decompress(parts[0].get_payload(decode=True))  # type: ignore[arg-type]
    return mail, ET.fromstring(xml)


def resolver(**extra: object) -> FakeResolver:
    records: dict[tuple[str, str], object] = {
        ("_dmarc.example.com", "TXT"): [
            "v=DMARC1; p=reject; sp=quarantine; adkim=s; pct=50; "
            "rua=mailto:dmarc@example.com,mailto:agg@reports.test!10m,mailto:nobody@unverified.test"],
        ("example.com._report._dmarc.reports.test", "TXT"): ["v=DMARC1"],
    }
    records.update({(k.replace("__", "."), "TXT"): v for k, v in extra.items()})
    return FakeResolver(records)


def test_report_xml_and_mail(with_store: Callable[[StoreTest], None]) -> None:
    async def body(store: SQLiteStore) -> None:
        recorder = StoreDMARCRecorder(store)
        for _ in range(3):
            await recorder.record_dmarc(observation())
        await recorder.record_dmarc(observation("198.51.100.7", "fail", spf_result="fail", spf_aligned=False,
                                                dkim=(), dkim_aligned=False, disposition="reject"))
        await recorder.record_dmarc(observation(policy_domain="other.test", header_from="other.test"))
        day = store.now().strftime("%Y-%m-%d")
        outbox = Outbox()
        reporter = DMARCReporter(store, resolver(), HOST, outbox, clock=lambda: 1_700_000_000)
        assert await reporter.report_day(day) == 2
        assert [to for to, _ in outbox.sent] == ["dmarc@example.com", "agg@reports.test"]
        mail, root = _attachment(outbox.sent[0][1])
        begin = int(datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp())
        report_id = root.findtext("report_metadata/report_id")
        assert mail["From"] == f"MAILER-DAEMON@{HOST}" and mail["To"] == "dmarc@example.com"
        subject = str(mail["Subject"]).replace("\r\n", "").replace("\n", "")  # unfold
        assert subject == f"Report Domain: example.com Submitter: {HOST} Report-ID: <{report_id}>"
        names = [p.get_filename() for p in mail.walk() if p.get_filename()]
        assert names == [f"{HOST}!example.com!{begin}!{begin + 86399}.xml.gz"]
        assert root.tag == "feedback"
        assert root.findtext("report_metadata/org_name") == HOST
        assert root.findtext("report_metadata/email") == f"postmaster@{HOST}"
        assert root.findtext("report_metadata/date_range/begin") == str(begin)
        assert root.findtext("report_metadata/date_range/end") == str(begin + 86399)
        published = {child.tag: child.text for child in root.find("policy_published")}  # type: ignore[union-attr]
        assert published == {"domain": "example.com", "adkim": "s", "aspf": "r", "p": "reject", "sp": "quarantine",
                             "pct": "50", "fo": "0"}
        records = root.findall("record")
        assert len(records) == 2  # other.test rows are another report (and other.test has no record)
        by_ip = {r.findtext("row/source_ip"): r for r in records}
        good, bad = by_ip["192.0.2.1"], by_ip["198.51.100.7"]
        assert good.findtext("row/count") == "3"
        assert [good.findtext(f"row/policy_evaluated/{t}") for t in ("disposition", "dkim", "spf")] == \
            ["none", "pass", "pass"]
        assert good.findtext("identifiers/header_from") == "example.com"
        assert [(d.findtext("domain"), d.findtext("result")) for d in good.findall("auth_results/dkim")] == \
            [("example.com", "pass"), ("esp.test", "fail")]
        assert good.findtext("auth_results/spf/domain") == "example.com"
        assert good.findtext("auth_results/spf/result") == "pass"
        assert bad.findtext("row/count") == "1"
        assert [bad.findtext(f"row/policy_evaluated/{t}") for t in ("disposition", "dkim", "spf")] == \
            ["reject", "fail", "fail"]
        assert bad.findall("auth_results/dkim") == [] and bad.findtext("auth_results/spf/result") == "fail"

    with_store(body)


def test_no_report_without_rua_or_on_dns_failure(with_store: Callable[[StoreTest], None]) -> None:
    async def body(store: SQLiteStore) -> None:
        await StoreDMARCRecorder(store).record_dmarc(observation())
        day = store.now().strftime("%Y-%m-%d")
        outbox = Outbox()
        no_rua = FakeResolver({("_dmarc.example.com", "TXT"): ["v=DMARC1; p=none"]})
        assert await DMARCReporter(store, no_rua, HOST, outbox).report_day(day) == 0
        broken = FakeResolver({("_dmarc.example.com", "TXT"): TEMPFAIL})
        assert await DMARCReporter(store, broken, HOST, outbox).report_day(day) == 0
        assert outbox.sent == []

    with_store(body)


def test_size_limit_skips_destination(with_store: Callable[[StoreTest], None]) -> None:
    async def body(store: SQLiteStore) -> None:
        await StoreDMARCRecorder(store).record_dmarc(observation())
        day = store.now().strftime("%Y-%m-%d")
        dns = FakeResolver({("_dmarc.example.com", "TXT"): [
            "v=DMARC1; p=none; rua=mailto:small@example.com!1k,mailto:big@example.com!1m"]})
        outbox = Outbox()
        assert await DMARCReporter(store, dns, HOST, outbox).report_day(day) == 1
        assert [to for to, _ in outbox.sent] == ["big@example.com"]

    with_store(body)


@pytest.mark.parametrize(("uri", "expected"), [
    ("mailto:dmarc@example.com", Destination("dmarc@example.com")),
    ("mailto:dmarc@example.com!10m", Destination("dmarc@example.com", 10 << 20)),
    ("mailto:dmarc@example.com!500", Destination("dmarc@example.com", 500)),
    ("mailto:d%2Cmarc@example.com!2k", Destination("d,marc@example.com", 2048)),
    ("MAILTO:x@example.com", Destination("x@example.com")),
    ("https://example.com/report", None),
    ("mailto:no-at-sign", None),
    ("mailto:x@example.com!10x", None),
])
def test_parse_mailto(uri: str, expected: Destination | None) -> None:
    assert parse_mailto(uri) == expected


def test_external_destination_verification(run: Callable[..., object]) -> None:
    rua = ["mailto:a@example.com", "mailto:b@sub.example.com", "mailto:c@reports.test", "mailto:d@unverified.test",
           "mailto:e@broken.test", "mailto:f@wild.test", "mailto:g@redirect.test", "mailto:h@badredirect.test"]
    dns = FakeResolver({
        ("example.com._report._dmarc.reports.test", "TXT"): ["v=DMARC1"],
        ("example.com._report._dmarc.unverified.test", "TXT"): ["v=spf1 -all"],
        ("example.com._report._dmarc.broken.test", "TXT"): TEMPFAIL,
        ("example.com._report._dmarc.wild.test", "TXT"): ["v=DMARC1;"],
        ("example.com._report._dmarc.redirect.test", "TXT"): ["v=DMARC1; rua=mailto:x@mail.redirect.test"],
        ("example.com._report._dmarc.badredirect.test", "TXT"): ["v=DMARC1; rua=mailto:x@elsewhere.test"],
    })
    found = run(destinations(dns, "example.com", rua))
    assert [d.address for d in found] == [  # type: ignore[attr-defined]
        "a@example.com", "b@sub.example.com", "c@reports.test", "f@wild.test", "x@mail.redirect.test"]
    # same organizational domain: no verification lookup at all
    assert ("example.com._report._dmarc.example.com", "TXT") not in dns.queries
    assert ("example.com._report._dmarc.sub.example.com", "TXT") not in dns.queries


def test_schedule_and_task_reports_yesterday(run: Callable[..., object]) -> None:
    midnight = datetime(2026, 3, 2, tzinfo=UTC).timestamp()
    assert seconds_until_next_run(midnight - 100, 600) == 700
    assert seconds_until_next_run(midnight + 700, 600) == 86400 - 100

    class Reporter:
        clock = staticmethod(lambda: midnight + 600)
        def __init__(self) -> None:
            self.days: list[str] = []

        async def report_day(self, day: str) -> int:
            self.days.append(day)
            return 0

    reporter = Reporter()
    run(DMARCReportTask(reporter, 600).run_once())  # type: ignore[arg-type]
    assert reporter.days == ["2026-03-01"]

    claimed: set[tuple[str, str]] = set()

    async def claim(job: str, day: str) -> bool:  # as the store's claim_daily_job: the first one wins
        first = (job, day) not in claimed
        claimed.add((job, day))
        return first

    nodes = [DMARCReportTask(reporter, 600, claim=claim) for _ in range(3)]  # type: ignore[arg-type]
    for node in nodes:
        run(node.run_once())
    assert reporter.days == ["2026-03-01", "2026-03-01"]  # once more (the first task claimed nothing), not 3


def test_sent_through_the_dsn_path_with_null_sender(with_store: Callable[[StoreTest], None]) -> None:
    """Wired as app.py does: ``queue/reports.Reporter.send`` queues it with the null reverse-path."""
    from pillarbox.auth.directory import Directory
    from pillarbox.queue.reports import Reporter
    from pillarbox.queue.schedule import RetryPolicy

    async def body(store: SQLiteStore) -> None:
        await StoreDMARCRecorder(store).record_dmarc(observation())
        day = store.now().strftime("%Y-%m-%d")
        dns = FakeResolver({("_dmarc.example.com", "TXT"): ["v=DMARC1; p=none; rua=mailto:dmarc@example.com"]})
        pokes: list[int] = []
        reporter = Reporter(store, Directory(store), HOST, RetryPolicy(), lambda: pokes.append(1))
        assert await DMARCReporter(store, dns, HOST, reporter.send).report_day(day) == 1
        [entry] = await store.list_queue()
        assert entry.sender == "" and [r.address for r in entry.recipients] == ["dmarc@example.com"]
        assert pokes == [1]
        _, root = _attachment(await store.read_message(entry.message_id))
        assert root.findtext("policy_published/domain") == "example.com"

    with_store(body)
