"""Date parts for the "date" extension (RFC 5260 4): a datetime in, the text a script compares out.

``date`` reads a header field as an RFC 5322 date-time (for ``Received``, the part after the last
``;``, 4.1: "the date-time in a Received field ... follows the last semicolon"), moves it to ``:zone``,
keeps it in its own zone with ``:originalzone``, or moves it to the server's zone; ``currentdate``
does the same with the time the delivery started. A field that is not a date makes the test false.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo

from pillarbox.mime.summary import parse_date

_ZONE = re.compile(r"([+-])([0-9]{2})([0-9]{2})\Z")
_MJD_EPOCH = date(1858, 11, 17)  # 4.2 "julian": days since this date (Modified Julian Day)
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _zone(moment: datetime) -> str:
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"


def _std11(moment: datetime) -> str:
    return (f"{_WEEKDAYS[moment.weekday()]}, {moment.day:02d} {_MONTHS[moment.month - 1]} {moment.year:04d} "
            f"{moment:%H:%M:%S} {_zone(moment)}")


DATE_PARTS: dict[str, Callable[[datetime], str]] = {
    "year": lambda m: f"{m.year:04d}",
    "month": lambda m: f"{m.month:02d}",
    "date": lambda m: f"{m.day:02d}",
    "julian": lambda m: str((m.date() - _MJD_EPOCH).days),
    "hour": lambda m: f"{m.hour:02d}",
    "minute": lambda m: f"{m.minute:02d}",
    "second": lambda m: f"{m.second:02d}",
    "time": lambda m: f"{m:%H:%M:%S}",
    "iso8601": lambda m: f"{m:%Y-%m-%dT%H:%M:%S}{_zone(m)[:3]}:{_zone(m)[3:]}",
    "std11": _std11,
    "zone": _zone,
    "weekday": lambda m: str((m.weekday() + 1) % 7),  # 0 is Sunday
}


def parse_zone(value: str) -> tzinfo | None:
    """``+hhmm`` / ``-hhmm`` (RFC 5260 4.1 time-zone), or None when malformed."""
    match = _ZONE.match(value)
    if match is None or int(match.group(3)) > 59:
        return None
    minutes = int(match.group(2)) * 60 + int(match.group(3))
    return timezone(timedelta(minutes=-minutes if match.group(1) == "-" else minutes))


def header_datetime(name: str, value: str) -> datetime | None:
    if name.lower() == "received":
        value = value.rpartition(";")[2]
    return parse_date(value.strip())


def date_part(moment: datetime, part: str) -> str | None:
    extract = DATE_PARTS.get(part.lower())
    return extract(moment) if extract is not None else None


def in_zone(moment: datetime, zone: tzinfo | None) -> datetime:
    return moment.astimezone(zone or UTC)
