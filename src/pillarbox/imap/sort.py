"""SORT (RFC 5256 3) with SORT=DISPLAY (RFC 5957), and the base subject of RFC 5256 2.1.

The problem: sort keys are defined on header values that need decoding and normalising (the
"base subject" strips Re:, Fwd:, [list] tags and "(fwd)"), with ties broken by sequence number.
Everything a key needs was parsed at delivery (the stored structure holds the decoded subject,
the Date, the envelope addresses), so SORT never reads a message's bytes.

Keys, as the RFC defines them:
- ARRIVAL: INTERNALDATE; DATE: the Date header in UTC, else INTERNALDATE (RFC 5256 3, DATE);
- FROM / TO / CC: the addr-mailbox of the first address: its local part, or for a group the group's
  name, since the first IMAP address of a group is its start marker (RFC 9051 7.5.2);
- DISPLAYFROM / DISPLAYTO: the decoded display name of the first address, else its addr-spec, else
  its addr-mailbox, which for a group is its name (RFC 5957 3);
- SIZE: RFC822.SIZE; SUBJECT: the base subject (``subject``).
Strings compare by i;unicode-casemap (RFC 5051, ``casemap``: titlecased and decomposed, so "É"
sorts with "E" and "_" after "Z").

Ordering: Python's sort is stable (also with ``reverse=True``), so sorting the sequence-ordered
list once per criterion, last criterion first, gives the multi-key order with REVERSE applying to
its own key only and sequence number as the final tie-breaker.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pillarbox.imap.snapshot import ViewEntry
from pillarbox.mime import ParsedMessage, decode_header_value
from pillarbox.mime.addresses import Address
from pillarbox.mime.casemap import casemap
from pillarbox.mime.subject import base_subject
from pillarbox.store.records import MessageSummary


def _mailbox(addresses: tuple[Address, ...]) -> str:
    """RFC 5256 3: the addr-mailbox of the first address (a group's start marker holds its name)."""
    return casemap(addresses[0].mailbox or "") if addresses else ""


def display_name(addresses: tuple[Address, ...]) -> str:
    """RFC 5957 3: the decoded addr-name of the first address, else addr-mailbox@addr-host, else
    addr-mailbox (a group's name), else the empty string."""
    if not addresses:
        return ""
    first = addresses[0]
    name = decode_header_value(first.name).strip() if first.name else ""
    return casemap(name or first.addr_spec or first.mailbox or "")


class Facts:
    """What sorting and threading read of one message: the Date header (Unix seconds) and the base
    subject (RFC 5256 2.1, kept at delivery), plus the stored summary when the envelope or threading
    headers are needed."""

    __slots__ = ("_parsed", "base_subject", "seconds", "summary")

    def __init__(self, seconds: float | None, base: str, summary: MessageSummary | None = None) -> None:
        self.seconds = seconds
        self.base_subject = base
        self.summary = summary
        self._parsed: ParsedMessage | None = None

    @classmethod
    def of(cls, summary: MessageSummary | None) -> Facts:
        if summary is None:
            return cls(None, "")
        return cls(summary.date.timestamp() if summary.date else None, base_subject(summary.subject)[0], summary)

    @property
    def parsed(self) -> ParsedMessage | None:
        if self._parsed is None and self.summary is not None and self.summary.structure_json:
            self._parsed = ParsedMessage.from_json(self.summary.structure_json)
        return self._parsed

    def addresses(self, field: str) -> tuple[Address, ...]:
        parsed = self.parsed
        return getattr(parsed.envelope, field) if parsed is not None else ()


EntryOf = Callable[[int], ViewEntry]
"""The view's entry of a UID: built only for the keys that read it (building 100,000 cost more than sorting)."""
KeyFunction = Callable[[int, Facts, EntryOf], Any]
KEYS: dict[str, KeyFunction] = {
    "ARRIVAL": lambda uid, f, entry: entry(uid).internal_seconds,
    "DATE": lambda uid, f, entry: f.seconds if f.seconds is not None else entry(uid).internal_seconds,
    "SIZE": lambda uid, f, entry: entry(uid).size,
    "SUBJECT": lambda uid, f, entry: f.base_subject,
    "FROM": lambda uid, f, entry: _mailbox(f.addresses("from_")),
    "TO": lambda uid, f, entry: _mailbox(f.addresses("to")),
    "CC": lambda uid, f, entry: _mailbox(f.addresses("cc")),
    "DISPLAYFROM": lambda uid, f, entry: display_name(f.addresses("from_")),
    "DISPLAYTO": lambda uid, f, entry: display_name(f.addresses("to")),
}


NEEDS_ENVELOPE = frozenset({"FROM", "TO", "CC", "DISPLAYFROM", "DISPLAYTO"})


def sort_order(
    uids: Sequence[int], facts: dict[int, Facts], criteria: Sequence[tuple[str, bool]], entry: EntryOf,
) -> list[int]:
    """The positions of ``uids`` (in sequence order) ordered by ``criteria`` of (key, reverse)
    (RFC 5256 3); ``facts`` by UID (the DATE fallback is INTERNALDATE). Each key is computed once
    per message, then sorted on by position."""
    order = list(range(len(uids)))
    for name, reverse in reversed(criteria):
        key = KEYS[name]
        keys = [key(uid, facts[uid], entry) for uid in uids]
        order.sort(key=keys.__getitem__, reverse=reverse)
    return order
