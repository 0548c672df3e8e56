"""Header values decoded for listing, SORT (RFC 5256) and THREAD: dates and message ids."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

_MSG_ID = re.compile(r"<[^<>\s]*>")
MAX_REFERENCES = 100
"""Message-IDs kept from one References field. Real ones hold a few dozen; a sender can write
100,000, and THREAD links every one of them. Like a news server trimming References (RFC 5537
3.4.4), we keep the first (the thread's root) and the last ones (the nearest ancestors)."""


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
    """The "<msg-id>"s of ``value`` in order (RFC 5322 3.6.4), e.g. of a References field, trimmed
    to ``MAX_REFERENCES`` by ``trim_references``."""
    return trim_references(_MSG_ID.findall(value)) if value else ()


def trim_references(found: Sequence[str]) -> tuple[str, ...]:
    """``found`` itself when it holds at most ``MAX_REFERENCES``, else its first and its last ones."""
    if len(found) <= MAX_REFERENCES:
        return tuple(found)
    return (found[0], *found[len(found) - MAX_REFERENCES + 1 :])


def first_msg_id(value: str | None) -> str | None:
    """The first "<msg-id>" of ``value`` (what RFC 5256 takes of In-Reply-To), found without listing the rest."""
    found = _MSG_ID.search(value) if value else None
    return found.group() if found else None
