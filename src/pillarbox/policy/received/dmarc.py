"""Reading a DMARC aggregate report (RFC 7489 7.2, the XML schema of Appendix C) another domain sent us.

The shape: ``<feedback>`` holds one ``<report_metadata>`` (org_name, email, report_id, date_range
begin/end in seconds), one ``<policy_published>`` (domain, adkim, aspf, p, sp, pct) and one
``<record>`` per source: ``<row>`` (source_ip, count, policy_evaluated: disposition, dkim, spf,
reasons), ``<identifiers>`` (header_from, envelope_from) and ``<auth_results>`` (dkim and spf
results with their domains). Reporters differ in the details: Google omits ``envelope_from``,
Microsoft adds a namespace and ``envelope_to``, the DMARCbis drafts a ``urn:ietf:params:xml:ns:dmarc-2.0``
namespace, so elements are matched by local name and the optional ones may be missing.

Hostile XML is parsed by defusedxml with no DTD at all (no entities, so no billion laughs and no
external references), as a stream: each child of ``<feedback>`` is read when it ends and then
dropped, so memory follows one record, not the whole file; the depth (Appendix C needs 5) and the
count of elements in one child are bounded too. Every text kept is clipped (``model.clip``); counts and times must
be whole numbers.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, iterparse

from pillarbox.policy.received.model import ParsedReport, ReportRefused, clip, date_range, day_of, whole

MAX_DEPTH = 12
MAX_CHILD_ELEMENTS = 256
"""Elements inside one child of <feedback> (a record has ~20): what memory holds at a time."""


def _name(element: Element) -> str:
    return element.tag.rpartition("}")[2] if isinstance(element.tag, str) else ""


def _children(element: Element, name: str) -> Iterable[Element]:
    return (child for child in element if _name(child) == name)


def _find(element: Element | None, *path: str) -> Element | None:
    for name in path:
        if element is None:
            return None
        element = next(iter(_children(element, name)), None)
    return element


def _text(element: Element | None, *path: str) -> str:
    found = _find(element, *path)
    return clip(found.text) if found is not None and found.text else ""


def _results(element: Element | None, kind: str) -> str:
    """``domain:result`` of each auth_results/dkim (or spf), blank-separated."""
    if element is None:
        return ""
    return clip(" ".join(f"{_text(item, 'domain')}:{_text(item, 'result')}" for item in _children(element, kind)))


def _record(element: Element, day: str) -> dict[str, Any]:
    row, evaluated = _find(element, "row"), _find(element, "row", "policy_evaluated")
    if not _text(row, "source_ip"):
        raise ReportRefused("a record without source_ip")
    reasons = " ".join(_text(reason, "type") for reason in _children(evaluated, "reason")) if evaluated else ""
    return {
        "day": day, "source_ip": _text(row, "source_ip"), "count": whole(_text(row, "count"), "count"),
        "disposition": _text(evaluated, "disposition"), "dkim": _text(evaluated, "dkim"),
        "spf": _text(evaluated, "spf"), "reasons": clip(reasons),
        "header_from": _text(element, "identifiers", "header_from"),
        "envelope_from": _text(element, "identifiers", "envelope_from"),
        "dkim_results": _results(_find(element, "auth_results"), "dkim"),
        "spf_results": _results(_find(element, "auth_results"), "spf"),
    }


class _Reader:
    """The parts of ``<feedback>`` as they end. Appendix C's schema is a sequence: report_metadata,
    policy_published, then the records; a record before the metadata is refused (keeping records
    until a date range comes would let memory grow with the file)."""

    def __init__(self, max_records: int) -> None:
        self.max_records = max_records
        self.facts: tuple[str, str, int, int] | None = None
        """reporter, report_id, begin, end"""
        self.domain = ""
        self.rows: list[dict[str, Any]] = []

    def take(self, element: Element) -> None:
        name = _name(element)
        if name == "report_metadata":
            self.facts = _metadata(element)
        elif name == "policy_published":
            self.domain = _text(element, "domain").lower().rstrip(".")
        elif name == "record":
            if self.facts is None:
                raise ReportRefused("a record before report_metadata")
            if len(self.rows) >= self.max_records:
                raise ReportRefused(f"more than {self.max_records} records")
            self.rows.append(_record(element, day_of(self.facts[2])))

    def report(self) -> ParsedReport:
        if self.facts is None or not self.domain:
            raise ReportRefused("no report_metadata or no policy_published domain")
        reporter, report_id, begin, end = self.facts
        return ParsedReport("dmarc", reporter, report_id, (self.domain,), begin, end, self.rows)


def _metadata(element: Element) -> tuple[str, str, int, int]:
    begin, end = date_range(whole(_text(element, "date_range", "begin"), "begin"),
                            whole(_text(element, "date_range", "end"), "end"))
    reporter, report_id = _text(element, "org_name"), _text(element, "report_id")
    if not reporter or not report_id:
        raise ReportRefused("no org_name or no report_id")
    return reporter, report_id, begin, end


def parse_aggregate(data: bytes, max_records: int) -> ParsedReport:
    """The report in ``data`` (XML), or ReportRefused saying what is wrong with it."""
    reader, depth, in_child = _Reader(max_records), 0, 0
    root: Element | None = None
    try:
        for event, element in iterparse(io.BytesIO(data), ("start", "end"), forbid_dtd=True):
            if event == "start":
                depth += 1
                in_child = 0 if depth <= 2 else in_child + 1
                root = element if root is None else root
                if _name(root) != "feedback":
                    raise ReportRefused(f"the root element is <{clip(_name(root))[:40]}>, not <feedback>")
                if depth > MAX_DEPTH or in_child > MAX_CHILD_ELEMENTS:
                    raise ReportRefused("nested too deep, or a part with too many elements")
                continue
            depth -= 1
            if depth == 1 and root is not None:  # a child of <feedback> is complete: read it, then let it go
                reader.take(element)
                root.remove(element)
    except (ParseError, DefusedXmlException) as exc:
        raise ReportRefused(f"not well-formed XML without a DTD ({clip(exc)[:80]})") from None
    return reader.report()
