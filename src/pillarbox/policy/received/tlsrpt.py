"""Reading an SMTP TLS report (RFC 8460 4, the JSON of 4.4) another domain sent us.

The shape: ``organization-name``, ``date-range`` (``start-datetime`` / ``end-datetime``, RFC 3339),
``report-id`` and ``policies``: for each policy (``policy-type`` sts / tlsa / no-policy-found,
``policy-domain``, ``mx-host``) a ``summary`` of successful and failed sessions and the
``failure-details`` (result-type with its count). One row per policy. Reporters differ: ``mx-host``
is a list in the RFC's example but a string from some senders, ``failure-details`` is often absent.

Hostile JSON: the text is at most the unpacked-size limit (``intake``); nesting too deep for the
parser is a refusal, not a crash; types are checked before use; texts are clipped.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pillarbox.policy.received.model import ParsedReport, ReportRefused, clip, date_range, day_of, whole


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ReportRefused(f"{what}: not a JSON object")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ReportRefused(f"{what}: not a JSON array")
    return value


def _seconds(value: Any, what: str) -> int:
    """An RFC 3339 date-time ("2016-04-01T00:00:00Z") as seconds since the epoch."""
    try:
        moment = datetime.fromisoformat(str(value).strip().replace("z", "Z"))
    except ValueError:
        raise ReportRefused(f"{what}: not an RFC 3339 date-time ({clip(value)[:40]!r})") from None
    if moment.tzinfo is None:
        raise ReportRefused(f"{what}: a date-time without its offset")
    return int(moment.timestamp())


def _failures(details: list[Any]) -> str:
    """"result-type ×count" of each failure detail, counts of one type added up."""
    counts: dict[str, int] = {}
    for detail in details:
        detail = _object(detail, "failure-details")
        kind = clip(detail.get("result-type", "unknown"))
        counts[kind] = counts.get(kind, 0) + whole(detail.get("failed-session-count", 0), "failed-session-count")
    return clip(", ".join(f"{kind} ×{count}" for kind, count in sorted(counts.items())))


def _row(item: Any, day: str) -> dict[str, Any]:
    item = _object(item, "policies[]")
    policy = _object(item.get("policy"), "policy")
    summary = _object(item.get("summary"), "summary")
    mx = policy.get("mx-host", [])
    return {
        "day": day, "domain": clip(policy.get("policy-domain", "")).lower().rstrip("."),
        "policy_type": clip(policy.get("policy-type", "")),
        "mx": clip(" ".join(map(str, mx)) if isinstance(mx, list) else mx),
        "successful": whole(summary.get("total-successful-session-count", 0), "total-successful-session-count"),
        "failed": whole(summary.get("total-failure-session-count", 0), "total-failure-session-count"),
        "failures": _failures(_list(item.get("failure-details"), "failure-details")),
    }


def parse_tlsrpt(data: bytes, max_records: int) -> ParsedReport:
    """The report in ``data`` (JSON, UTF-8), or ReportRefused saying what is wrong with it."""
    try:
        report = _object(json.loads(data), "the report")
    except (ValueError, RecursionError) as exc:  # RecursionError: nesting deeper than the parser goes
        raise ReportRefused(f"not JSON ({clip(exc)[:80]})") from None
    span = _object(report.get("date-range"), "date-range")
    begin, end = date_range(_seconds(span.get("start-datetime"), "start-datetime"),
                            _seconds(span.get("end-datetime"), "end-datetime"))
    reporter, report_id = clip(report.get("organization-name")), clip(report.get("report-id"))
    if not reporter or not report_id:
        raise ReportRefused("no organization-name or no report-id")
    policies = _list(report.get("policies"), "policies")
    if len(policies) > max_records:
        raise ReportRefused(f"more than {max_records} policies")
    rows = [_row(item, day_of(begin)) for item in policies]
    domains = tuple(dict.fromkeys(row["domain"] for row in rows if row["domain"]))
    return ParsedReport("tlsrpt", reporter, report_id, domains, begin, end, rows)
