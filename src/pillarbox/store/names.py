"""Rules on names and values that every store backend applies the same way."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

from pillarbox.address import normalize_address, normalize_domain
from pillarbox.errors import StoreError
from pillarbox.mime.subject import base_subject

HIERARCHY_DELIMITER = "/"


def canonical_name(name: str) -> str:
    """INBOX is case-insensitive, also as the first level of a hierarchy (RFC 9051 5.1)."""
    head, sep, rest = name.partition(HIERARCHY_DELIMITER)
    if head.upper() == "INBOX":
        return "INBOX" + sep + rest
    return name


def new_folder_name(name: str) -> str:
    """The stored form of a folder name to create; refuses empty levels."""
    name = canonical_name(name)
    if not name or name.startswith(HIERARCHY_DELIMITER) or HIERARCHY_DELIMITER * 2 in name:
        raise StoreError(f"invalid folder name {name!r}")
    return name.rstrip(HIERARCHY_DELIMITER)


def normalize_alias(address: str, normalize: Callable[[str], str] = normalize_address) -> str:
    """Aliases may be catch-alls: ``@domain`` stands for every unknown local part of the domain.
    ``normalize``: ``mailbox_address`` for one being created."""
    if address.startswith("@"):
        return "@" + normalize_domain(address[1:])
    return normalize(address)


def to_datetime(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def zoned(seconds: int, zone_minutes: int) -> datetime:
    """An INTERNALDATE as the client gave it: the instant, in its zone."""
    if not zone_minutes:
        return to_datetime(seconds)
    return datetime.fromtimestamp(seconds, timezone(timedelta(minutes=zone_minutes)))


def internal_date_columns(moment: datetime | None, now: int) -> tuple[int, int]:
    """(Unix seconds, zone in minutes east of UTC) of an INTERNALDATE; None is now, in UTC."""
    if moment is None:
        return now, 0
    offset = moment.utcoffset()
    return int(moment.timestamp()), int(offset.total_seconds() // 60) if offset is not None else 0


def stored_base_subject(subject: str, stored: str | None, reply: int | bool) -> tuple[str, bool]:
    """The base subject kept at delivery (RFC 5256 2.1), computed for a message stored before it was kept."""
    return (stored, bool(reply)) if stored is not None else base_subject(subject)


def like_pattern(text: str) -> str:
    """``text`` as a LIKE pattern matching it anywhere (with ESCAPE '\\')."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
