"""What a parsed report is, and the small rules both parsers share (bounded text, whole numbers, days)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

MAX_TEXT = 255
"""Characters kept of any one text field: a reporter's name or a header_from is never longer."""
LATEST = 2**33
"""Seconds since the epoch past which a date is nonsense (the year 2242)."""


class ReportRefused(ValueError):
    """Not a report we can read: malformed, missing a required field, or past a limit (says which)."""


@dataclass(frozen=True)
class ParsedReport:
    kind: str
    """"dmarc" or "tlsrpt"."""
    reporter: str
    report_id: str
    domains: tuple[str, ...]
    """The policy domain(s) the report is about (a TLS report may cover several)."""
    begin: int
    end: int
    rows: list[dict[str, Any]] = field(default_factory=list)


def clip(value: object) -> str:
    """A text field as shown: one line, surrounding blanks gone, at most ``MAX_TEXT`` characters."""
    text = " ".join(str(value).split()) if value is not None else ""
    return text[:MAX_TEXT]


def whole(value: object, what: str, high: int = 2**53) -> int:
    """A non-negative integer (a count or a time), from a number or its decimal text."""
    text = value.strip() if isinstance(value, str) else value
    if isinstance(text, str) and text.isascii() and text.isdigit() and len(text) <= 16:
        text = int(text)
    if isinstance(text, bool) or not isinstance(text, int) or not 0 <= text < high:
        raise ReportRefused(f"{what}: not a whole number ({clip(value)[:40]!r})")
    return text


def date_range(begin: int, end: int) -> tuple[int, int]:
    if not 0 <= begin <= end < LATEST:
        raise ReportRefused(f"date range {begin}..{end} makes no sense")
    return begin, end


def day_of(seconds: int) -> str:
    """The UTC day a report's range starts on (reports cover one day, RFC 7489 7.2 and RFC 8460 4.1)."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d")
