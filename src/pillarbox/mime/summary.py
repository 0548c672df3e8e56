"""Header values decoded for listing, SORT (RFC 5256) and THREAD: dates and message ids."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

_MSG_ID = re.compile(r"<[^<>\s]*>")


def parse_date(value: str | None) -> datetime | None:
    """An RFC 5322 3.3 date-time as an aware datetime, or None when absent or unreadable.

    A "-0000" zone means "local time unknown" (RFC 5322 3.3); we read it as UTC so that every
    date can be compared, which is what SORT needs.
    """
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def references(value: str | None) -> tuple[str, ...]:
    """Every "<msg-id>" in ``value`` in order (RFC 5322 3.6.4), e.g. of a References field."""
    return tuple(_MSG_ID.findall(value)) if value else ()
