"""SORT (RFC 5256 3) with SORT=DISPLAY (RFC 5957), and the base subject of RFC 5256 2.1.

The problem: sort keys are defined on header values that need decoding and normalising (the
"base subject" strips Re:, Fwd:, [list] tags and "(fwd)"), with ties broken by sequence number.
Everything a key needs was parsed at delivery (the stored structure holds the decoded subject,
the Date, the envelope addresses), so SORT never reads a message's bytes.

Keys, as the RFC defines them:
- ARRIVAL: INTERNALDATE; DATE: the Date header in UTC, else INTERNALDATE (RFC 5256 3, DATE);
- FROM / TO / CC: the addr-mailbox (local part) of the first address, casefolded;
- DISPLAYFROM / DISPLAYTO: the decoded display name of the first address, else its addr-spec;
- SIZE: RFC822.SIZE; SUBJECT: the base subject.
Strings compare by i;unicode-casemap (RFC 5051: case-mapped, then decomposed with NFKD, so "É"
sorts with "E"), done here as ``casemap``: ``str.casefold`` then NFKD.

Ordering: Python's sort is stable (also with ``reverse=True``), so sorting the sequence-ordered
list once per criterion, last criterion first, gives the multi-key order with REVERSE applying to
its own key only and sequence number as the final tie-breaker.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

from pillarbox.imap.snapshot import ViewEntry
from pillarbox.mime import ParsedMessage, decode_header_value
from pillarbox.mime.addresses import Address
from pillarbox.store.records import MessageSummary

_TRAILER = re.compile(r"(?:\s|\(fwd\))+$", re.IGNORECASE)  # subj-trailer = "(fwd)" / WSP
_BLOB = r"\[[^\[\]]*\]\s*"  # subj-blob = "[" *BLOBCHAR "]" *WSP
_REFWD = rf"(?:re|fwd?)\s*(?:{_BLOB})?:"  # subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
_LEADER = re.compile(rf"^(?:(?:{_BLOB})*{_REFWD}|\s+)", re.IGNORECASE)  # subj-leader
_LEADING_BLOB = re.compile(rf"^{_BLOB}")
_WSP = re.compile(r"\s+")
_SPECIAL = re.compile(r"[\[(:]|^\s|\s$")


@functools.lru_cache(maxsize=8192)
def base_subject(subject: str) -> tuple[str, bool]:
    """RFC 5256 2.1: (the base subject, whether the subject marked a reply or forward)."""
    text = subject if subject.isascii() else unicodedata.normalize("NFKC", subject)
    text = _WSP.sub(" ", text)  # step 1 (encoded-words were decoded at delivery)
    if not _SPECIAL.search(text):  # no leader, trailer or blob can match: the common case, fast
        return casemap(text.strip()), False
    marked = False
    while True:
        text, cut = _strip_trailer(text)  # step 2
        marked |= cut
        text, cut = _strip_leaders(text)  # steps 3-5
        marked |= cut
        if text[:5].lower() == "[fwd:" and text.endswith("]"):  # step 6
            text, marked = text[5:-1], True
            continue
        return casemap(text), marked


def casemap(text: str) -> str:
    """The i;unicode-casemap key of ``text`` (RFC 5051 2, with casefold standing in for titlecase)."""
    return text.lower() if text.isascii() else unicodedata.normalize("NFKD", text.casefold())


def _strip_trailer(text: str) -> tuple[str, bool]:
    stripped = _TRAILER.sub("", text)
    return stripped, "(fwd)" in text[len(stripped) :].lower()


def _strip_leaders(text: str) -> tuple[str, bool]:
    marked = False
    while True:
        before = text
        while (found := _LEADER.match(text)) is not None and found.end() > 0:
            marked |= not found.group().isspace()
            text = text[found.end() :]
        found = _LEADING_BLOB.match(text)
        if found is not None and text[found.end() :].strip():  # step 4: only if something remains
            text = text[found.end() :]
        if text == before:
            return text, marked


def _first(addresses: tuple[Address, ...]) -> Address | None:
    return next((a for a in addresses if a.host is not None and a.mailbox is not None), None)


def _mailbox(addresses: tuple[Address, ...]) -> str:
    first = _first(addresses)
    return casemap(first.mailbox or "") if first else ""


def display_name(addresses: tuple[Address, ...]) -> str:
    """RFC 5957 2: the decoded display name of the first address, else its addr-spec."""
    first = _first(addresses)
    if first is None:
        return ""
    name = decode_header_value(first.name).strip() if first.name else ""
    return casemap(name or first.addr_spec)


class Facts:
    """What sorting and threading read of one message: the Date header (Unix seconds) and decoded
    subject, plus the stored summary when the envelope or threading headers are needed."""

    __slots__ = ("_parsed", "seconds", "subject", "summary")

    def __init__(self, seconds: float | None, subject: str, summary: MessageSummary | None = None) -> None:
        self.seconds = seconds
        self.subject = subject
        self.summary = summary
        self._parsed: ParsedMessage | None = None

    @classmethod
    def of(cls, summary: MessageSummary | None) -> Facts:
        if summary is None:
            return cls(None, "")
        return cls(summary.date.timestamp() if summary.date else None, summary.subject, summary)

    @property
    def parsed(self) -> ParsedMessage | None:
        if self._parsed is None and self.summary is not None and self.summary.structure_json:
            self._parsed = ParsedMessage.from_json(self.summary.structure_json)
        return self._parsed

    def addresses(self, field: str) -> tuple[Address, ...]:
        parsed = self.parsed
        return getattr(parsed.envelope, field) if parsed is not None else ()


KeyFunction = Callable[[ViewEntry, Facts], Any]
KEYS: dict[str, KeyFunction] = {
    "ARRIVAL": lambda e, f: e.internal_seconds,
    "DATE": lambda e, f: f.seconds if f.seconds is not None else e.internal_seconds,  # else INTERNALDATE
    "SIZE": lambda e, f: e.size,
    "SUBJECT": lambda e, f: base_subject(f.subject)[0],
    "FROM": lambda e, f: _mailbox(f.addresses("from_")),
    "TO": lambda e, f: _mailbox(f.addresses("to")),
    "CC": lambda e, f: _mailbox(f.addresses("cc")),
    "DISPLAYFROM": lambda e, f: display_name(f.addresses("from_")),
    "DISPLAYTO": lambda e, f: display_name(f.addresses("to")),
}


NEEDS_ENVELOPE = frozenset({"FROM", "TO", "CC", "DISPLAYFROM", "DISPLAYTO"})


def sort_entries(
    entries: Sequence[ViewEntry], facts: dict[int, Facts], criteria: Sequence[tuple[str, bool]]
) -> list[ViewEntry]:
    """``entries`` (in sequence order) ordered by ``criteria`` of (key, reverse) (RFC 5256 3);
    ``facts`` by UID."""
    ordered = list(entries)
    for name, reverse in reversed(criteria):
        key = KEYS[name]
        ordered.sort(key=lambda e: key(e, facts[e.uid]), reverse=reverse)
    return ordered
