"""Reports other domains sent to our rua address (``policy/received``), as the API and the reports page
show them: one object per report with its rows (per day and source)."""

from __future__ import annotations

from typing import Any

from pillarbox.admin.ops_outbound import when
from pillarbox.errors import InvalidInput
from pillarbox.store.api import WebStore

KINDS = ("dmarc", "tlsrpt")
DAY = 24 * 3600
MAX_DAYS = 400


async def list_received_reports(store: WebStore, kind: str, days: int = 30) -> list[dict[str, Any]]:
    """The ``kind`` reports (dmarc: RFC 7489 aggregate, tlsrpt: RFC 8460) whose range ends within ``days``."""
    if kind not in KINDS:
        raise InvalidInput("kind", f"kind: one of {', '.join(KINDS)}")
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput("days", f"days: 1 to {MAX_DAYS}")
    since = int(store.now().timestamp()) - days * DAY
    return [{"kind": r.kind, "reporter": r.reporter, "report_id": r.report_id, "domain": r.domain,
             "begin": _when(r.begin), "end": _when(r.end), "received": _when(r.received), "rows": r.rows}
            for r in await store.received_reports(kind, since)]


def _when(seconds: float) -> str | None:
    """ISO 8601, or None for a time no calendar holds (a row stored by hand must not break the page)."""
    try:
        return when(int(seconds))
    except (ValueError, OverflowError, OSError):
        return None
