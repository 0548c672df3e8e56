"""Recognising DMARC aggregate and TLS reports in mail to our rua address, and keeping their rows.

The problem. ``pillarbox dns`` asks every receiver (``rua=mailto:postmaster@<domain>`` in the DMARC
and TLS-RPT records, ``policy/publish.report_address``) to mail us daily reports. They arrive as
ordinary mail: a DMARC report is XML, usually gzip (``.xml.gz``) or zip (``.zip``, Microsoft and
Yahoo) attached to a short text (RFC 7489 7.2.1.1); a TLS report is JSON, gzip-compressed as
``application/tlsrpt+gzip`` inside ``multipart/report; report-type="tlsrpt"`` (RFC 8460 5.3). Read by
a person they are unreadable; summed up per day and source they say who sends as our domains and
whether TLS to us works.

What we do. After the message is stored as usual (the mail itself is never held back, changed or
refused: reading reports is a courtesy of the server to its admin), a message addressed to the rua
address is searched for report files: parts whose type or file name says gzip, zip, XML or JSON, at
most ``MAX_ATTACHMENTS`` of them. Each is unpacked within the size and member bounds
(``mime/archive.py``: bombs are refused with a log line) and recognised by its own structure (a
``<feedback>`` root is a DMARC report, a JSON object a TLS report), then parsed (``dmarc.py``,
``tlsrpt.py``) off the event loop. A report about no domain of ours is not kept (anyone can mail us
one); a report sent twice (same reporter and report id) is kept once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pillarbox.address import AddressError
from pillarbox.mime.archive import ArchiveRefused, is_archive, unpack
from pillarbox.mime.model import Part
from pillarbox.mime.structure import Limits, parse_message
from pillarbox.mime.transfer import decode_body
from pillarbox.obs import Counter, get_logger, log_event
from pillarbox.policy.received.dmarc import parse_aggregate
from pillarbox.policy.received.model import ParsedReport, ReportRefused
from pillarbox.policy.received.tlsrpt import parse_tlsrpt
from pillarbox.store.api import WebStore

log = get_logger("policy")
RECEIVED = Counter("pillarbox_received_reports_total", "Reports received from other domains, by kind and result",
                   ("kind", "result"))
MAX_ATTACHMENTS = 10
MAX_ZIP_MEMBERS = 8
MAX_RECORDS = 20000
"""Records of one DMARC report (policies of one TLS report): a big sender's daily Google report has a few
thousand."""
_PARTS = Limits(max_depth=8, max_parts=200)
_TYPES = {"application/gzip", "application/x-gzip", "application/zip", "application/x-zip-compressed",
          "application/x-zip", "application/xml", "text/xml", "application/tlsrpt+gzip", "application/tlsrpt+json",
          "application/json", "application/octet-stream"}
_SUFFIXES = (".xml", ".gz", ".zip", ".json")
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Found:
    """One report file in the message: the report, or why it was refused."""

    name: str
    report: ParsedReport | None = None
    refusal: str = ""


def _leaves(root: Part) -> Iterator[Part]:
    stack = [root]
    while stack:
        part = stack.pop()
        if part.children:
            stack.extend(reversed(part.children))
        else:
            yield part


def _file_name(part: Part) -> str:
    params = dict(part.disposition[1]) if part.disposition else {}
    return params.get("filename") or part.param("name") or ""


def _is_candidate(part: Part) -> bool:
    kind = f"{part.content_type}/{part.content_subtype}".lower()
    return kind in _TYPES or _file_name(part).lower().endswith(_SUFFIXES)


def parse_file(data: bytes, max_records: int = MAX_RECORDS) -> ParsedReport:
    """A report recognised by its structure: XML is DMARC (Appendix C), JSON is TLS-RPT (RFC 8460 4.4)."""
    text = data.removeprefix(_BOM).lstrip()
    if text.startswith(b"<"):
        return parse_aggregate(text, max_records)
    if text.startswith(b"{"):
        return parse_tlsrpt(text, max_records)
    raise ReportRefused("neither XML nor JSON")


def find_reports(raw: bytes, max_size: int) -> list[Found]:
    """Every report file in the message ``raw`` (blocking: run it in a thread)."""
    message = parse_message(raw, _PARTS)
    found: list[Found] = []
    for part in [p for p in _leaves(message.root) if _is_candidate(p)][:MAX_ATTACHMENTS]:
        name, body = _file_name(part) or f"{part.content_type}/{part.content_subtype}", decode_body(raw, part)
        if not is_archive(body) and body.removeprefix(_BOM).lstrip()[:1] not in (b"<", b"{"):
            continue  # an octet-stream that is no report: nothing to say
        try:
            found += [Found(name, parse_file(data)) for data in unpack(body, max_size, MAX_ZIP_MEMBERS)]
        except (ArchiveRefused, ReportRefused) as exc:
            found.append(Found(name, refusal=str(exc)))
    return found


class ReportIntake:
    """Reads the reports in mail to ``<local_part>@<one of our domains>`` into the store."""

    def __init__(self, store: WebStore, local_part: str, max_size: int) -> None:
        self.store = store
        self.local_part = local_part.lower()
        self.max_size = max_size

    def wants(self, recipients: Iterable[str]) -> bool:
        return any(address.rpartition("@")[0].lower() == self.local_part for address in recipients)

    async def take(self, raw: bytes, queue_id: str) -> int:
        """Keep the reports found in ``raw``; how many were new."""
        kept = 0
        for found in await asyncio.to_thread(find_reports, raw, self.max_size):
            if found.report is None:
                RECEIVED.inc(kind="unknown", result="refused")
                log_event(log, "warning", "report refused", queue_id=queue_id, file=found.name, reason=found.refusal)
            else:
                kept += await self._keep(found.report, found.name, queue_id)
        return kept

    async def _keep(self, report: ParsedReport, name: str, queue_id: str) -> int:
        domains = [d for d in report.domains if await self._ours(d)]
        rows = [r for r in report.rows if report.kind == "dmarc" or r["domain"] in domains]
        if not domains:
            RECEIVED.inc(kind=report.kind, result="not_ours")
            log_event(log, "info", "report about no domain of ours ignored", queue_id=queue_id, file=name,
                      kind=report.kind, reporter=report.reporter, domains=" ".join(report.domains))
            return 0
        new = await self.store.add_received_report(report.kind, report.reporter, report.report_id,
                                                   ", ".join(domains), report.begin, report.end, rows)
        RECEIVED.inc(kind=report.kind, result="kept" if new else "again")
        log_event(log, "info", "report received" if new else "report received again", queue_id=queue_id,
                  kind=report.kind, reporter=report.reporter, report_id=report.report_id, domains=" ".join(domains),
                  rows=len(rows))
        return int(new)

    async def _ours(self, domain: str) -> bool:
        """``domain`` or a parent of it is served here (a DMARC policy may be a subdomain's)."""
        labels = domain.split(".")
        for start in range(len(labels) - 1):
            try:
                if await self.store.has_domain(".".join(labels[start:])):
                    return True
            except AddressError:  # not even a domain name
                return False
        return False
