"""SMTP TLS reporting (RFC 8460): telling receiving domains how our TLS to their MX hosts went.

The problem. A domain that publishes MTA-STS or DANE cannot see the failures of senders it never
hears from (a stripped STARTTLS, an expired certificate, a policy that lists the wrong MX): the mail
simply does not arrive, or arrives over plaintext. RFC 8460 has every sender count, per day and per
policy, its successful and failed TLS sessions, and mail (or POST) a JSON summary to the addresses the
domain publishes in ``_smtp._tls.<domain>`` TXT ``v=TLSRPTv1; rua=mailto:...``.

What we do. The outbound path counts each session's result in the store (``count_tls_result``:
policy domain, policy type sts / tlsa / no-policy-found, MX host, result). Once a day, shortly after
midnight UTC, ``TLSReportSender.send_for_day(yesterday)`` groups the day's counts by policy domain,
looks up the domain's TLSRPT record, builds one report (section 4) and mails it gzip-compressed as
``application/tlsrpt+gzip`` inside ``multipart/report; report-type="tlsrpt"`` (5.3), from
``MAILER-DAEMON@<hostname>`` with the null reverse-path through the DSN path (local delivery or the
outbound queue).

Choices and vague points: RFC 8460 3 says exactly one ``v=TLSRPTv1`` record, otherwise none; only
``mailto:`` destinations get the report mailed, ``https:`` ones POSTed (``report_post``). "mx-not-listed" (an MX
host that the MTA-STS policy does not list) is not a registered result type: it is reported as
``validation-failure`` with ``failure-reason-code`` "mx-not-listed". The policy-string of an STS
policy is the cached policy's lines; of a TLSA policy a fresh lookup of the MX host's TLSA records
(we do not keep them). The sending MTA's address is not recorded, so ``sending-mta-ip`` is omitted.
The report-id is deterministic (day, domain, submitter), so a report sent twice can be recognised.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from pathlib import Path

from pillarbox.daily import DailyTask
from pillarbox.dns.resolver import DNSTemporaryError, Resolver
from pillarbox.obs import get_logger, log_event
from pillarbox.outbound import dane
from pillarbox.outbound.mtasts import PolicyError, parse_policy
from pillarbox.policy.dmarc_reports import parse_mailto
from pillarbox.queue.report_post import PostFailed, https_uri, post_report

log = get_logger("queue")
Send = Callable[[str, bytes], Awaitable[None]]
Row = tuple[str, str, str, str, str, int]
"""(policy_domain, day, policy_type, mx_host, result, count) as ``store.tls_results`` returns them."""

REGISTERED = {"starttls-not-supported", "certificate-host-mismatch", "certificate-expired",
              "certificate-not-trusted", "validation-failure", "tlsa-invalid", "dnssec-invalid", "dane-required",
              "sts-policy-fetch-error", "sts-policy-invalid", "sts-webpki-invalid"}


def parse_tlsrpt(records: Sequence[bytes]) -> list[str]:
    """The ``rua`` URIs of the one ``v=TLSRPTv1`` record (RFC 8460 3), or [] (none, or several)."""
    found = [r.decode("utf-8", "replace") for r in records if r.replace(b" ", b"").startswith(b"v=TLSRPTv1;")]
    if len(found) != 1:
        return []
    fields = dict(part.strip().partition("=")[::2] for part in found[0].split(";") if part.strip())
    return [uri.strip() for uri in fields.get("rua", "").split(",") if uri.strip()]


def mailto_addresses(uris: Sequence[str]) -> list[str]:
    """The addresses of the ``mailto:`` URIs (parsed as DMARC's rua URIs are: same URI rules)."""
    return [found.address for found in map(parse_mailto, uris) if found is not None]


@dataclass(frozen=True)
class ReportMeta:
    submitter: str
    policy_domain: str
    day: str
    contact: str = ""

    @property
    def report_id(self) -> str:
        return f"{uuid.uuid5(uuid.NAMESPACE_DNS, f'{self.day}.{self.policy_domain}.{self.submitter}')}@{self.submitter}"

    @property
    def begin(self) -> int:
        return int(datetime.strptime(self.day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp())

    @property
    def filename(self) -> str:
        """5.3: ``sender!policy-domain!begin-timestamp!end-timestamp.json.gz``."""
        return f"{self.submitter}!{self.policy_domain}!{self.begin}!{self.begin + 86400}.json.gz"


@dataclass
class PolicyGroup:
    """One ``policies[]`` entry: a policy (type, string, domain, MX) and its session counts."""

    policy_type: str
    mx_hosts: list[str]
    policy_string: list[str] | None = None
    successes: int = 0
    failures: dict[tuple[str, str], int] | None = None

    def add(self, mx_host: str, result: str, count: int) -> None:
        if result == "success":
            self.successes += count
            return
        self.failures = self.failures or {}
        self.failures[(result, mx_host)] = self.failures.get((result, mx_host), 0) + count

    def as_json(self, domain: str) -> dict[str, object]:
        policy: dict[str, object] = {"policy-type": self.policy_type}
        if self.policy_string is not None:
            policy["policy-string"] = self.policy_string
        policy["policy-domain"] = domain
        if self.mx_hosts:
            policy["mx-host"] = self.mx_hosts
        failures = self.failures or {}
        entry: dict[str, object] = {"policy": policy, "summary": {
            "total-successful-session-count": self.successes,
            "total-failure-session-count": sum(failures.values())}}
        if failures:
            entry["failure-details"] = [_failure(result, mx, n) for (result, mx), n in sorted(failures.items())]
        return entry


def _failure(result: str, mx_host: str, count: int) -> dict[str, object]:
    detail: dict[str, object] = {"result-type": result if result in REGISTERED else "validation-failure"}
    if mx_host:  # empty for a policy that could not be fetched (no MX was tried under it)
        detail["receiving-mx-hostname"] = mx_host
    detail["failed-session-count"] = count
    if result not in REGISTERED:
        detail["failure-reason-code"] = result
    return detail


def build_report(meta: ReportMeta, groups: Sequence[PolicyGroup]) -> dict[str, object]:
    """The report object of RFC 8460 4.3."""
    return {
        "organization-name": meta.submitter,
        "date-range": {"start-datetime": f"{meta.day}T00:00:00Z", "end-datetime": f"{meta.day}T23:59:59Z"},
        "contact-info": meta.contact or f"postmaster@{meta.submitter}",
        "report-id": meta.report_id,
        "policies": [g.as_json(meta.policy_domain) for g in groups],
    }


def build_mail(meta: ReportMeta, report: dict[str, object], to: str, now: float) -> bytes:
    """The report mail of RFC 8460 5.3."""
    mail = EmailMessage(policy=SMTP)
    mail["From"] = f"MAILER-DAEMON@{meta.submitter}"
    mail["To"] = to
    mail["Subject"] = f"Report Domain: {meta.policy_domain} Submitter: {meta.submitter} Report-ID: <{meta.report_id}>"
    mail["Date"] = format_datetime(datetime.fromtimestamp(now, UTC))
    mail["Message-ID"] = make_msgid(domain=meta.submitter)
    mail["TLS-Report-Domain"] = meta.policy_domain
    mail["TLS-Report-Submitter"] = meta.submitter
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(f"This is an aggregate TLS report for {meta.policy_domain} ({meta.day}, UTC) "
                     f"from {meta.submitter}.\n")
    body = json.dumps(report, indent=1).encode()
    mail.add_attachment(gzip.compress(body, mtime=0), maintype="application", subtype="tlsrpt+gzip",
                        filename=meta.filename)
    mail.set_type("multipart/report")
    mail.set_param("report-type", "tlsrpt")
    return mail.as_bytes()


class TLSReportSender:
    """Builds and sends one day's TLS reports; ``TLSReportTask`` runs it daily."""

    def __init__(self, store: object, resolver: Resolver, hostname: str, send: Send, smtp_port: int = 25,
                 contact: str = "", clock: Callable[[], float] = time.time, ca_file: Path | None = None) -> None:
        self.ca_file = ca_file
        self.store = store
        self.resolver = resolver
        self.hostname = hostname
        self.send = send
        self.smtp_port = smtp_port
        self.contact = contact
        self.clock = clock

    async def send_for_day(self, day: str) -> int:
        """Send the reports for ``day`` (YYYY-MM-DD, UTC); returns how many mails were sent."""
        rows: list[Row] = await self.store.tls_results(day)  # type: ignore[attr-defined]
        by_domain: dict[str, list[Row]] = {}
        for row in rows:
            by_domain.setdefault(row[0].lower(), []).append(row)
        sent = 0
        for domain, domain_rows in sorted(by_domain.items()):
            try:
                sent += await self.send_domain(ReportMeta(self.hostname, domain, day, self.contact), domain_rows)
            except Exception as exc:  # one domain's trouble must not stop the others
                log_event(log, "error", "TLS report failed", domain=domain, day=day, error=str(exc))
        return sent

    async def send_domain(self, meta: ReportMeta, rows: Sequence[Row]) -> int:
        try:
            uris = parse_tlsrpt(await self.resolver.txt(f"_smtp._tls.{meta.policy_domain}"))
        except DNSTemporaryError as exc:
            log_event(log, "warning", "TLS report skipped: lookup failed", domain=meta.policy_domain, error=str(exc))
            return 0
        targets = mailto_addresses(uris)
        posts = [uri for uri in uris if https_uri(uri) is not None]
        if len(targets) + len(posts) < len(uris):
            log_event(log, "info", "TLS report: only mailto: and https: destinations are used",
                      domain=meta.policy_domain, rua=",".join(uris))
        if not targets and not posts:
            return 0
        report = build_report(meta, await self.groups(meta.policy_domain, rows))
        for target in targets:
            await self.send(target, build_mail(meta, report, target, self.clock()))
        posted = [uri for uri in posts if await self._post(meta, report, uri)]
        log_event(log, "info", "TLS report", domain=meta.policy_domain, day=meta.day, sent=len(targets),
                  posted=len(posted))
        return len(targets) + len(posted)

    async def _post(self, meta: ReportMeta, report: dict[str, object], uri: str) -> bool:
        """RFC 8460 5.3.1: the gzip'd JSON as the body of an HTTPS POST."""
        body = gzip.compress(json.dumps(report).encode(), mtime=0)
        try:
            await post_report(uri, body, self.resolver, self.ca_file)
        except PostFailed as exc:
            log_event(log, "warning", "TLS report not posted", domain=meta.policy_domain, rua=uri, error=str(exc))
            return False
        return True

    async def groups(self, domain: str, rows: Sequence[Row]) -> list[PolicyGroup]:
        groups: dict[tuple[str, str], PolicyGroup] = {}
        for _domain, _day, policy_type, mx_host, result, count in rows:
            key = (policy_type, mx_host if policy_type == "tlsa" else "")
            if key not in groups:
                groups[key] = await self._group(domain, policy_type, mx_host)
            groups[key].add(mx_host, result, count)
            if policy_type == "no-policy-found" and mx_host not in groups[key].mx_hosts:
                groups[key].mx_hosts.append(mx_host)
        return [groups[k] for k in sorted(groups)]

    async def _group(self, domain: str, policy_type: str, mx_host: str) -> PolicyGroup:
        if policy_type == "sts":
            cached = await self.store.get_mtasts_policy(domain)  # type: ignore[attr-defined]
            if cached is not None:
                lines = [line.strip() for line in cached.policy.replace("\r\n", "\n").split("\n") if line.strip()]
                try:
                    patterns = list(parse_policy(cached.policy).mx)
                except PolicyError:
                    patterns = []
                return PolicyGroup("sts", patterns, lines)
            return PolicyGroup("sts", [])
        if policy_type == "tlsa":
            try:
                records, _secure = await self.resolver.tlsa(dane.tlsa_name(mx_host, self.smtp_port))
            except DNSTemporaryError:
                records = []
            return PolicyGroup("tlsa", [mx_host], [f"{r.usage} {r.selector} {r.mtype} {r.data.hex()}" for r in records]
                               or None)
        return PolicyGroup("no-policy-found", [])


class TLSReportTask(DailyTask):
    """Runs ``TLSReportSender.send_for_day(yesterday)`` once a day, ``delay`` seconds after midnight UTC."""

    def __init__(self, sender: TLSReportSender, delay: float = 900.0,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 claim: Callable[[str, str], Awaitable[bool]] | None = None) -> None:
        super().__init__("tls-reports", sender.send_for_day, sender.clock, delay, sleep, claim)
