"""SEARCH evaluation (RFC 9051 6.4.4): a search program against the session's view of a mailbox.

Keys cost very different amounts. Flags, sizes, dates, UIDs and MODSEQs are in the view already;
header keys need the envelope computed at delivery (no blob read); BODY and TEXT go to the store's
full-text index once per key (one query, not one per message); only HEADER <field> reads stored
header bytes. So the evaluator first asks the store for every BODY/TEXT key's matching UIDs, loads
envelopes only when the program has a header key, then walks messages with cheap checks.

Matching is case-insensitive substring on decoded text (RFC 9051 6.4.4: "case-insensitive ... the
server MAY"), after RFC 2047 decoding of header values; dates ignore time and zone, internal dates
taken in UTC. \\Recent is not kept (IMAP4rev2 dropped it), so RECENT and NEW match nothing, OLD all.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date

from pillarbox.imap.parser.search_key import (
    And,
    DateKey,
    FlagKey,
    HeaderKey,
    KeywordKey,
    ModSeqKey,
    Not,
    NumberKey,
    Or,
    SearchKey,
    SetKey,
    StringKey,
)
from pillarbox.imap.parser.sequence_set import SequenceSet
from pillarbox.imap.sections import filter_header
from pillarbox.imap.selected import SelectedMailbox
from pillarbox.mime import Address, ParsedMessage, decode_header_value
from pillarbox.store.api import Store
from pillarbox.store.records import MessageEntry

_FLAG_OF = {
    "ANSWERED": "\\Answered",
    "DELETED": "\\Deleted",
    "DRAFT": "\\Draft",
    "FLAGGED": "\\Flagged",
    "SEEN": "\\Seen",
}
_ENVELOPE_KEYS = frozenset({"FROM", "TO", "CC", "BCC", "SUBJECT", "SENTBEFORE", "SENTON", "SENTSINCE"})


@dataclass
class _Prepared:
    text_hits: dict[StringKey, set[int]] = field(default_factory=dict)
    parsed: dict[int, ParsedMessage] = field(default_factory=dict)
    headers: dict[int, bytes] = field(default_factory=dict)


async def search(
    store: Store, view: SelectedMailbox, program: And, saved: list[int] | None, now: float | None = None
) -> list[int]:
    """UIDs (ascending) of the view's messages that match ``program``."""
    uids = view.live_uids()
    prepared = _Prepared()
    await _prepare(store, view, program, uids, prepared)
    evaluator = _Evaluator(view, prepared, saved or [], time.time() if now is None else now)
    return [uid for uid in uids if evaluator.matches(program, view.entry(uid))]


async def _prepare(store: Store, view: SelectedMailbox, program: And, uids: list[int], prepared: _Prepared) -> None:
    keys = list(_walk(program))
    for key in keys:
        if isinstance(key, StringKey) and key.name in ("BODY", "TEXT") and key not in prepared.text_hits:
            fields = ("body",) if key.name == "BODY" else ("headers", "body")
            prepared.text_hits[key] = await store.search_text(view.id, key.value, fields)
    if any(_needs_envelope(key) for key in keys):
        entries = [view.entry(uid) for uid in uids]
        summaries = await store.get_summaries([e.message_id for e in entries])
        for entry in entries:
            summary = summaries.get(entry.message_id)
            if summary is not None:
                prepared.parsed[entry.uid] = ParsedMessage.from_json(summary.structure_json)
    if any(isinstance(key, HeaderKey) for key in keys):
        for uid in uids:
            entry = view.entry(uid)
            raw = await store.read_message(entry.message_id)
            parsed = prepared.parsed.get(uid)
            end = parsed.root.header_end if parsed else raw.find(b"\r\n\r\n") + 4
            prepared.headers[uid] = raw[:end]


def _needs_envelope(key: SearchKey) -> bool:
    return (isinstance(key, StringKey) and key.name in _ENVELOPE_KEYS) or (
        isinstance(key, DateKey) and key.name in _ENVELOPE_KEYS
    )


def _walk(key: SearchKey) -> Iterator[SearchKey]:
    yield key
    if isinstance(key, And):
        for child in key.keys:
            yield from _walk(child)
    elif isinstance(key, Not):
        yield from _walk(key.key)
    elif isinstance(key, Or):
        yield from _walk(key.left)
        yield from _walk(key.right)


class _Evaluator:
    def __init__(self, view: SelectedMailbox, prepared: _Prepared, saved: list[int], now: float) -> None:
        self.view = view
        self.prepared = prepared
        self.saved = set(saved)
        self.now = now
        self.largest_uid = view.uids[-1] if view.uids else 0

    def matches(self, key: SearchKey, entry: MessageEntry) -> bool:
        match key:
            case And(keys):
                return all(self.matches(k, entry) for k in keys)
            case Or(left, right):
                return self.matches(left, entry) or self.matches(right, entry)
            case Not(inner):
                return not self.matches(inner, entry)
            case FlagKey(name):
                return _flag_matches(name, entry.flags)
            case KeywordKey(name, keyword):
                present = keyword.lower() in {f.lower() for f in entry.flags}
                return present if name == "KEYWORD" else not present
            case NumberKey(name, value):
                return self._number(name, value, entry)
            case DateKey(name, day):
                return self._date(name, day, entry)
            case SetKey(uid, numbers):
                return self._in_set(uid, numbers, entry)
            case ModSeqKey(modseq=modseq):
                return entry.modseq >= modseq
            case StringKey(name, value):
                return self._string(name, value, entry)
            case HeaderKey(field_name, value):
                header = filter_header(self.prepared.headers.get(entry.uid, b""), (field_name,), exclude=False)
                if not value:
                    return header.strip() != b""
                text = header.decode("utf-8", "replace").split(":", 1)[-1]
                return value.casefold() in decode_header_value(text).casefold()
        return False

    def _number(self, name: str, value: int, entry: MessageEntry) -> bool:
        if name == "LARGER":
            return entry.size > value
        if name == "SMALLER":
            return entry.size < value
        age = self.now - entry.internal_date.timestamp()
        return age >= value if name == "OLDER" else age <= value  # RFC 5032

    def _date(self, name: str, day: date, entry: MessageEntry) -> bool:
        if name.startswith("SENT"):
            parsed = self.prepared.parsed.get(entry.uid)
            if parsed is None or parsed.date is None:
                return False
            actual = parsed.date.date()
            name = name[4:]
        elif name.startswith("SAVED"):
            actual, name = entry.save_date.astimezone(UTC).date(), name[5:]
        else:
            actual = entry.internal_date.astimezone(UTC).date()
        return {"BEFORE": actual < day, "ON": actual == day, "SINCE": actual >= day}[name]

    def _in_set(self, uid: bool, numbers: SequenceSet, entry: MessageEntry) -> bool:
        if numbers.saved:
            return entry.uid in self.saved
        if uid:
            return numbers.contains(entry.uid, self.largest_uid)
        seq = self.view.seq_of(entry.uid)
        return seq is not None and numbers.contains(seq, self.view.exists)

    def _string(self, name: str, value: str, entry: MessageEntry) -> bool:
        if name in ("BODY", "TEXT"):
            return entry.uid in self.prepared.text_hits.get(StringKey(name, value), set())
        if name in ("EMAILID", "THREADID"):
            return False
        parsed = self.prepared.parsed.get(entry.uid)
        if parsed is None:
            return False
        needle = value.casefold()
        envelope = parsed.envelope
        if name == "SUBJECT":
            return needle in decode_header_value(envelope.subject or "").casefold()
        addresses = {"FROM": envelope.from_, "TO": envelope.to, "CC": envelope.cc, "BCC": envelope.bcc}[name]
        return needle in _address_text(addresses).casefold()


def _flag_matches(name: str, flags: frozenset[str]) -> bool:
    if name in ("ALL", "OLD"):
        return True
    if name in ("RECENT", "NEW", "SAVEDATESUPPORTED"):
        return name == "SAVEDATESUPPORTED"
    negate = name.startswith("UN")
    present = _FLAG_OF[name[2:] if negate else name] in flags
    return present != negate


def _address_text(addresses: tuple[Address, ...]) -> str:
    parts = []
    for address in addresses:
        if address.name:
            parts.append(decode_header_value(address.name))
        if address.addr_spec:
            parts.append(f"<{address.addr_spec}>")
    return " ".join(parts)
