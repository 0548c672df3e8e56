"""TLS-RPT (RFC 8460): the daily JSON report from the store's counters, and the mail that carries it."""

from __future__ import annotations

import asyncio
import email
import email.policy
import gzip
import json
from datetime import UTC, datetime

from pillarbox.daily import seconds_until_next_run
from pillarbox.dns.fake import TEMPFAIL, FakeResolver
from pillarbox.queue.tlsrpt import (
    ReportMeta,
    TLSReportSender,
    TLSReportTask,
    mailto_addresses,
    parse_tlsrpt,
)
from pillarbox.store.records import CachedPolicy

DAY = "2026-03-04"
POLICY = "version: STSv1\r\nmode: enforce\r\nmx: mx.b.test\r\nmx: *.backup.b.test\r\nmax_age: 86400\r\n"


def resolver() -> FakeResolver:
    return FakeResolver({
        ("_smtp._tls.b.test", "TXT"): ["v=TLSRPTv1; rua=mailto:tls%2Dreports@b.test,https://r.b.test/x"],
        ("_smtp._tls.c.test", "TXT"): ["v=TLSRPTv1;rua=mailto:rpt@c.test"],
        ("_smtp._tls.quiet.test", "TXT"): ["v=spf1 -all"],
        ("_smtp._tls.broken.test", "TXT"): TEMPFAIL,
        ("_25._tcp.mx.c.test", "TLSA"): [(3, 1, 1, bytes(range(32)))],
    }, authenticated={"_25._tcp.mx.c.test"})


async def fill(store) -> None:
    store.now = lambda: datetime(2026, 3, 4, 12, tzinfo=UTC)  # count_tls_result's day
    await store.put_mtasts_policy(CachedPolicy("b.test", "abc", POLICY, 0, 2**40))
    for _ in range(3):
        await store.count_tls_result("b.test", "sts", "mx.b.test", "success")
    await store.count_tls_result("b.test", "sts", "mx.b.test", "certificate-host-mismatch")
    await store.count_tls_result("b.test", "sts", "mx9.b.test", "mx-not-listed")
    await store.count_tls_result("c.test", "tlsa", "mx.c.test", "success")
    await store.count_tls_result("c.test", "tlsa", "mx.c.test", "tlsa-invalid")
    await store.count_tls_result("c.test", "no-policy-found", "mx2.c.test", "success")
    await store.count_tls_result("quiet.test", "no-policy-found", "mx.quiet.test", "success")
    await store.count_tls_result("broken.test", "no-policy-found", "mx.broken.test", "success")


class Outbox:
    def __init__(self) -> None:
        self.mails: list[tuple[str, bytes]] = []

    async def __call__(self, to: str, mail: bytes) -> None:
        self.mails.append((to, mail))

    def report(self, to: str) -> tuple[email.message.EmailMessage, dict]:
        raw = next(m for t, m in self.mails if t == to)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        attachment = list(message.iter_parts())[1]
        return message, json.loads(gzip.decompress(attachment.get_payload(decode=True)))


def test_txt_record_and_mailto():
    assert parse_tlsrpt([b"v=TLSRPTv1; rua=mailto:a@b.test, mailto:c@d.test"]) == ["mailto:a@b.test", "mailto:c@d.test"]
    assert parse_tlsrpt([b"v=TLSRPTv1; rua=mailto:a@b.test", b"v=TLSRPTv1; rua=mailto:x@b.test"]) == []
    assert parse_tlsrpt([b"v=spf1 -all"]) == []
    assert mailto_addresses(["mailto:tls%2Dr@b.test", "https://x/"]) == ["tls-r@b.test"]


def test_report_json_and_mail(with_store):
    outbox = Outbox()

    async def body(store) -> None:
        await fill(store)
        sender = TLSReportSender(store, resolver(), "mx.a.test", outbox, clock=lambda: 1772700000.0)
        assert await sender.send_for_day(DAY) == 2  # b.test and c.test; quiet.test has no record, broken.test SERVFAIL

    with_store(body)
    assert sorted(t for t, _ in outbox.mails) == ["rpt@c.test", "tls-reports@b.test"]
    message, report = outbox.report("tls-reports@b.test")
    meta = ReportMeta("mx.a.test", "b.test", DAY)
    assert message.get_content_type() == "multipart/report"
    assert message["Content-Type"].params["report-type"] == "tlsrpt"
    assert message["From"] == "MAILER-DAEMON@mx.a.test"
    assert message["Subject"] == f"Report Domain: b.test Submitter: mx.a.test Report-ID: <{meta.report_id}>"
    assert message["TLS-Report-Domain"] == "b.test" and message["TLS-Report-Submitter"] == "mx.a.test"
    text, attachment = message.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert attachment.get_content_type() == "application/tlsrpt+gzip"
    assert attachment.get_filename() == "mx.a.test!b.test!1772582400!1772668800.json.gz"
    assert report["organization-name"] == "mx.a.test"
    assert report["date-range"] == {"start-datetime": "2026-03-04T00:00:00Z", "end-datetime": "2026-03-04T23:59:59Z"}
    assert report["contact-info"] == "postmaster@mx.a.test"
    assert report["report-id"] == meta.report_id
    [policy] = report["policies"]
    assert policy["policy"] == {
        "policy-type": "sts", "policy-domain": "b.test", "mx-host": ["mx.b.test", "*.backup.b.test"],
        "policy-string": ["version: STSv1", "mode: enforce", "mx: mx.b.test", "mx: *.backup.b.test", "max_age: 86400"],
    }
    assert policy["summary"] == {"total-successful-session-count": 3, "total-failure-session-count": 2}
    assert policy["failure-details"] == [
        {"result-type": "certificate-host-mismatch", "receiving-mx-hostname": "mx.b.test", "failed-session-count": 1},
        {"result-type": "validation-failure", "receiving-mx-hostname": "mx9.b.test", "failed-session-count": 1,
         "failure-reason-code": "mx-not-listed"},
    ]


def test_tlsa_and_no_policy_entries(with_store):
    outbox = Outbox()

    async def body(store) -> None:
        await fill(store)
        await TLSReportSender(store, resolver(), "mx.a.test", outbox).send_for_day(DAY)

    with_store(body)
    _message, report = outbox.report("rpt@c.test")
    by_type = {p["policy"]["policy-type"]: p for p in report["policies"]}
    assert set(by_type) == {"tlsa", "no-policy-found"}
    tlsa = by_type["tlsa"]
    assert tlsa["policy"]["mx-host"] == ["mx.c.test"]
    assert tlsa["policy"]["policy-string"] == [f"3 1 1 {bytes(range(32)).hex()}"]
    assert tlsa["summary"] == {"total-successful-session-count": 1, "total-failure-session-count": 1}
    assert tlsa["failure-details"][0]["result-type"] == "tlsa-invalid"
    none = by_type["no-policy-found"]
    assert "policy-string" not in none["policy"] and none["policy"]["policy-domain"] == "c.test"
    assert none["summary"]["total-successful-session-count"] == 1 and "failure-details" not in none


def test_no_results_no_mail(with_store):
    outbox = Outbox()

    async def body(store) -> None:
        assert await TLSReportSender(store, resolver(), "mx.a.test", outbox).send_for_day(DAY) == 0

    with_store(body)
    assert outbox.mails == []


def test_report_goes_through_the_queue(with_store):
    """With the DSN path's ``Reporter.send`` the report is queued for the remote rua, null reverse-path."""
    from pillarbox.auth.directory import Directory
    from pillarbox.queue.reports import Reporter
    from pillarbox.queue.schedule import RetryPolicy

    async def body(store) -> None:
        await fill(store)
        reporter = Reporter(store, Directory(store), "mx.a.test", RetryPolicy(), lambda: None)
        assert await TLSReportSender(store, resolver(), "mx.a.test", reporter.send).send_for_day(DAY) == 2
        entries = await store.lease_queue("test", 60, 10)
        addresses = sorted(r.address for e in entries for r in e.recipients)
        assert addresses == ["rpt@c.test", "tls-reports@b.test"]
        assert all(e.sender == "" for e in entries)
        raw = await store.read_message(entries[0].message_id)
        assert b'report-type="tlsrpt"' in raw or b"report-type=tlsrpt" in raw

    with_store(body)


def test_daily_task_runs_yesterday():
    days: list[str] = []
    sleeps: list[float] = []

    class Sender:
        clock = staticmethod(lambda: datetime(2026, 3, 5, 0, 10, tzinfo=UTC).timestamp())

        async def send_for_day(self, day: str) -> int:
            days.append(day)
            return 0

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) > 1:
            raise asyncio.CancelledError

    async def main() -> None:
        task = TLSReportTask(Sender(), delay=900, sleep=sleep)  # type: ignore[arg-type]
        await task.start()
        await asyncio.sleep(0.05)
        await task.stop()

    asyncio.run(main())
    assert sleeps[0] == 300  # 00:10 → 00:15
    assert days == ["2026-03-04"]
    assert seconds_until_next_run(datetime(2026, 3, 5, 0, 20, tzinfo=UTC).timestamp(), 900) == 86400 - 300


def test_policy_fetch_failure_has_no_mx_hostname(with_store):
    outbox = Outbox()

    async def body(store) -> None:
        await store.count_tls_result("c.test", "sts", "", "sts-policy-fetch-error")
        day = store.now().strftime("%Y-%m-%d")
        await TLSReportSender(store, resolver(), "mx.a.test", outbox).send_for_day(day)

    with_store(body)
    _message, report = outbox.report("rpt@c.test")
    [policy] = report["policies"]
    assert policy["policy"] == {"policy-type": "sts", "policy-domain": "c.test"}
    assert policy["failure-details"] == [{"result-type": "sts-policy-fetch-error", "failed-session-count": 1}]
