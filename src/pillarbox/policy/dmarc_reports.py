"""DMARC aggregate reports (RFC 7489 7.2, schema in Appendix C): what we saw, sent to whoever asked.

The problem. A domain that publishes DMARC with ``rua=`` asks every receiver for a daily summary: from
which IP addresses mail claiming its name came, how many, and whether SPF and DKIM passed and aligned.
The inbound policy counts those facts per policy domain, day and outcome (``dmarc_observations`` in the
store, via ``policy/reports.py``); this module turns one UTC day of counts into one XML report per
policy domain, gzips it, and mails it.

The procedure:
1. The day's rows grouped by policy domain (the domain whose record was applied: From domain or its
   organizational domain). Each row is one ``<record>``: source IP, count, the evaluated policy
   (disposition; DKIM/SPF = aligned pass or not), identifiers and the raw SPF/DKIM results.
2. ``policy_published`` and ``rua`` come from a fresh lookup of ``_dmarc.<domain>`` (7.2.1: the report
   carries the policy as published; we did not store the record). No record or no ``rua`` → no report.
3. Destinations (6.2): ``mailto:`` URIs only (``https`` is not defined for aggregate reports), percent-
   decoded, with an optional ``!size`` limit (k/m/g/t, powers of two). A report bigger than the limit is
   not sent to that destination (7.2.1.1 lets us skip it; we log it).
4. External destination verification (7.1): when a destination's organizational domain differs from the
   policy domain's, ``<policy domain>._report._dmarc.<destination host>`` must hold a TXT record starting
   ``v=DMARC1``, or the destination is dropped. If that record carries its own ``rua`` it replaces the
   destination, but only with URIs in the same organizational domain as the verifying host (7.1: an
   override pointing elsewhere again means no report to either).
5. The mail (7.2.1.1): From ``MAILER-DAEMON@<hostname>``, Subject ``Report Domain: <domain> Submitter:
   <hostname> Report-ID: <id>``, a short text part and the ``application/gzip`` attachment named
   ``<submitter>!<domain>!<begin>!<end>.xml.gz``; sent with the null reverse-path through the same path
   as DSNs (``queue/reports.Reporter.send``: local delivery or the outbound queue).

Vague points and choices: a DNS failure while looking up a policy or a verification record skips that
destination for the day (there is no retry store); ``report_id`` is deterministic (day and domain), so a
report sent twice can be recognised as the same by its receiver. Which SPF identity was checked is not
recorded, so ``scope`` is reported as ``mfrom``.
"""

from __future__ import annotations

import asyncio
import gzip
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from xml.etree import ElementTree as ET

from pillarbox.daily import DailyTask
from pillarbox.dns.resolver import DNSTemporaryError, Resolver
from pillarbox.mailauth.dmarc import DMARCRecord, discover, is_dmarc_record, parse_record
from pillarbox.mailauth.psl import organizational_domain
from pillarbox.obs import Counter, get_logger, log_event

log = get_logger("policy")
REPORTS = Counter("pillarbox_dmarc_reports_total", "DMARC aggregate reports, by result", ("result",))
Send = Callable[[str, bytes], Awaitable[None]]
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


@dataclass(frozen=True)
class Destination:
    address: str
    max_size: int | None = None


def parse_mailto(uri: str) -> Destination | None:
    """``mailto:addr[!size[kmgt]]`` → Destination (6.2, 6.4); None for other schemes or junk."""
    uri = uri.strip()
    if not uri.lower().startswith("mailto:"):
        return None
    target, bang, size = uri[len("mailto:"):].partition("!")
    limit = None
    if bang:
        unit = size[-1:].lower() if size[-1:].isalpha() else ""
        number = size[:-1] if unit else size
        if not number.isdigit() or unit not in _UNITS:
            return None
        limit = int(number) * _UNITS[unit]
    address = urllib.parse.unquote(target.split("?", 1)[0]).strip()
    if address.count("@") != 1 or not all(address.split("@")):
        return None
    return Destination(address, limit)


async def _verification(resolver: Resolver, policy_domain: str, host: str) -> DMARCRecord | bool:
    """7.1: the record at ``<policy domain>._report._dmarc.<host>``: a DMARCRecord (possibly with rua
    override), True when it exists but is no full record, False when there is none."""
    texts = [t.decode("utf-8", "replace") for t in await resolver.txt(f"{policy_domain}._report._dmarc.{host}")]
    found = [t for t in texts if is_dmarc_record(t)]
    if not found:
        return False
    return parse_record(found[0]) or True


async def destinations(resolver: Resolver, policy_domain: str, rua: Iterable[str]) -> list[Destination]:
    """The verified mailto destinations of a record's ``rua`` (7.1 external destination verification)."""
    result: list[Destination] = []
    org = organizational_domain(policy_domain)
    for uri in rua:
        dest = parse_mailto(uri)
        if dest is None:
            continue
        host = dest.address.rpartition("@")[2].rstrip(".").lower()
        if organizational_domain(host) == org:
            result.append(dest)
            continue
        try:
            verified = await _verification(resolver, policy_domain, host)
        except DNSTemporaryError as exc:
            log_event(log, "warning", "DMARC report destination not verified: DNS failure", domain=policy_domain,
                      destination=dest.address, error=str(exc))
            continue
        if verified is False:
            log_event(log, "info", "DMARC report destination refused: no authorization record",
                      domain=policy_domain, destination=dest.address)
            continue
        result.extend(_override(dest, host, verified))
    unique: dict[str, Destination] = {}
    for dest in result:
        unique.setdefault(dest.address.lower(), dest)
    return list(unique.values())


def _override(dest: Destination, host: str, verified: DMARCRecord | bool) -> list[Destination]:
    if not isinstance(verified, DMARCRecord) or not verified.rua:
        return [dest]
    replaced = [d for u in verified.rua if (d := parse_mailto(u)) is not None]
    org = organizational_domain(host)
    if any(organizational_domain(d.address.rpartition("@")[2].rstrip(".").lower()) != org for d in replaced):
        return []  # 7.1: an override that points elsewhere again gets neither
    return replaced


# -- the XML (Appendix C) -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportMeta:
    submitter: str
    """Our hostname: org_name, and the submitter in the subject and file name."""
    policy_domain: str
    day: str
    """YYYY-MM-DD (UTC) the rows were counted on."""

    @property
    def begin(self) -> int:
        return int(datetime.strptime(self.day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp())

    @property
    def end(self) -> int:
        return self.begin + 86399

    @property
    def report_id(self) -> str:
        return f"{self.day.replace('-', '')}.{self.policy_domain}@{self.submitter}"

    @property
    def filename(self) -> str:
        return f"{self.submitter}!{self.policy_domain}!{self.begin}!{self.end}.xml.gz"


def _sub(parent: ET.Element, tag: str, text: object | None = None) -> ET.Element:
    element = ET.SubElement(parent, tag)
    if text is not None:
        element.text = str(text)
    return element


def build_xml(meta: ReportMeta, record: DMARCRecord, rows: Sequence[Mapping[str, object]]) -> bytes:
    feedback = ET.Element("feedback")
    _sub(feedback, "version", "1.0")
    metadata = _sub(feedback, "report_metadata")
    _sub(metadata, "org_name", meta.submitter)
    _sub(metadata, "email", f"postmaster@{meta.submitter}")
    _sub(metadata, "report_id", meta.report_id)
    date_range = _sub(metadata, "date_range")
    _sub(date_range, "begin", meta.begin)
    _sub(date_range, "end", meta.end)
    published = _sub(feedback, "policy_published")
    _sub(published, "domain", meta.policy_domain)
    _sub(published, "adkim", record.adkim)
    _sub(published, "aspf", record.aspf)
    _sub(published, "p", record.policy.value)
    _sub(published, "sp", (record.subdomain_policy or record.policy).value)
    _sub(published, "pct", record.pct)
    _sub(published, "fo", record.fo)
    for row in rows:
        _record(feedback, row)
    ET.indent(feedback)
    return ET.tostring(feedback, encoding="UTF-8", xml_declaration=True) + b"\n"


def _record(feedback: ET.Element, row: Mapping[str, object]) -> None:
    record = _sub(feedback, "record")
    data = _sub(record, "row")
    _sub(data, "source_ip", row["source_ip"])
    _sub(data, "count", row["count"])
    evaluated = _sub(data, "policy_evaluated")
    disposition = str(row["disposition"])
    _sub(evaluated, "disposition", disposition if disposition in ("none", "quarantine", "reject") else "none")
    _sub(evaluated, "dkim", "pass" if row["dkim_aligned"] else "fail")
    _sub(evaluated, "spf", "pass" if row["spf_aligned"] else "fail")
    identifiers = _sub(record, "identifiers")
    if row.get("envelope_from"):
        _sub(identifiers, "envelope_from", row["envelope_from"])
    _sub(identifiers, "header_from", row["header_from"])
    results = _sub(record, "auth_results")
    for item in str(row.get("dkim") or "").split():
        domain, _, result = item.rpartition(":")
        if domain:
            dkim = _sub(results, "dkim")
            _sub(dkim, "domain", domain)
            _sub(dkim, "result", result)
    spf = _sub(results, "spf")
    _sub(spf, "domain", row.get("spf_domain") or "")
    _sub(spf, "scope", "mfrom")
    _sub(spf, "result", row.get("spf_result") or "none")


def build_mail(meta: ReportMeta, xml: bytes, to: str, now: float) -> bytes:
    """The report mail (7.2.1.1) carrying the gzipped XML."""
    mail = EmailMessage(policy=SMTP)
    mail["From"] = f"MAILER-DAEMON@{meta.submitter}"
    mail["To"] = to
    mail["Subject"] = f"Report Domain: {meta.policy_domain} Submitter: {meta.submitter} Report-ID: <{meta.report_id}>"
    mail["Date"] = format_datetime(datetime.fromtimestamp(now, UTC))
    mail["Message-ID"] = make_msgid(domain=meta.submitter)
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(f"DMARC aggregate report for {meta.policy_domain} ({meta.day}, UTC) from {meta.submitter}.\n")
    mail.add_attachment(gzip.compress(xml, mtime=0), maintype="application", subtype="gzip",
                        filename=meta.filename)
    return mail.as_bytes()


# -- sending --------------------------------------------------------------------------------------------


class DMARCReporter:
    """Builds and sends one day's aggregate reports; ``DMARCReportTask`` runs it daily."""

    def __init__(self, store: object, resolver: Resolver, hostname: str, send: Send,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.resolver = resolver
        self.hostname = hostname
        self.send = send
        self.clock = clock

    async def report_day(self, day: str) -> int:
        """Send the reports for ``day`` (YYYY-MM-DD, UTC); returns how many mails were sent."""
        rows = await self.store.dmarc_observations(day)  # type: ignore[attr-defined]
        grouped: dict[str, list[dict[str, object]]] = {}
        for row in rows:
            grouped.setdefault(str(row["policy_domain"]).lower(), []).append(row)
        sent = 0
        for domain, domain_rows in sorted(grouped.items()):
            try:
                sent += await self.report_domain(ReportMeta(self.hostname, domain, day), domain_rows)
            except Exception as exc:  # one domain's trouble must not stop the others
                REPORTS.inc(result="error")
                log_event(log, "error", "DMARC report failed", domain=domain, day=day, error=str(exc))
        return sent

    async def report_domain(self, meta: ReportMeta, rows: Sequence[Mapping[str, object]]) -> int:
        try:
            found = await discover(self.resolver, meta.policy_domain)
        except DNSTemporaryError as exc:
            log_event(log, "warning", "DMARC report skipped: policy lookup failed", domain=meta.policy_domain,
                      error=str(exc))
            REPORTS.inc(result="dns_error")
            return 0
        if found is None or found.domain != meta.policy_domain or not found.record.rua:
            REPORTS.inc(result="no_rua")
            return 0
        targets = await destinations(self.resolver, meta.policy_domain, found.record.rua)
        xml = build_xml(meta, found.record, rows)
        sent = 0
        for target in targets:
            mail = build_mail(meta, xml, target.address, self.clock())
            if target.max_size is not None and len(mail) > target.max_size:
                log_event(log, "warning", "DMARC report larger than the destination accepts",
                          domain=meta.policy_domain, destination=target.address, size=len(mail),
                          limit=target.max_size)
                REPORTS.inc(result="too_large")
                continue
            await self.send(target.address, mail)
            REPORTS.inc(result="sent")
            sent += 1
        log_event(log, "info", "DMARC aggregate report", domain=meta.policy_domain, day=meta.day,
                  records=len(rows), sent=sent)
        return sent


class DMARCReportTask(DailyTask):
    """Runs ``DMARCReporter.report_day(yesterday)`` once a day, ``delay`` seconds after midnight UTC."""

    def __init__(self, reporter: DMARCReporter, delay: float = 600.0,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 claim: Callable[[str, str], Awaitable[bool]] | None = None) -> None:
        super().__init__("dmarc-reports", reporter.report_day, reporter.clock, delay, sleep, claim)


def _iso(day: date) -> str:
    return day.strftime("%Y-%m-%d")
