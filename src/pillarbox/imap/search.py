"""SEARCH evaluation (RFC 9051 6.4.4): a search program against the session's view of a mailbox.

Keys cost very different amounts. Flags, sizes, dates, UIDs and MODSEQs are in the view already;
BODY and TEXT go to the store's full-text index, SUBJECT and FROM to the decoded Subject and From
stored at delivery, once per key (one query, not one per message); TO, CC and BCC need the envelope
computed at delivery (no blob read); only HEADER <field> reads stored header bytes. So the evaluator
first asks the store for every BODY/TEXT/SUBJECT/FROM key's matching UIDs, loads envelopes only when
the program has a TO/CC/BCC key, then walks messages with cheap checks.

Matching is case- and accent-insensitive substring on decoded text (RFC 9051 6.4.4; the folding is
``store.textfold.fold``, the same the index was built with), after RFC 2047 decoding of headers.
Address keys match the field in display form, ``Alice <a@x>, b@y`` (``display_addresses``, what
delivery stored for From), groups with their names. Dates ignore time and zone: the date as written in
the Date header (SENT*) or in the INTERNALDATE as the client gave it (BEFORE/ON/SINCE). RECENT, NEW
and OLD ask the session's own \\Recent (``imap.recent``; none in IMAP4rev2).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from pillarbox.errors import NotFound
from pillarbox.imap import objectid
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
from pillarbox.imap.recent import RecentUids
from pillarbox.imap.sections import filter_header
from pillarbox.imap.selected import SelectedMailbox
from pillarbox.imap.snapshot import ViewEntry
from pillarbox.mime import ParsedMessage, decode_header_value
from pillarbox.mime.envelope import display_addresses
from pillarbox.store.api import Store, SummaryField
from pillarbox.store.records import MessageSummary
from pillarbox.store.textfold import fold

_FLAG_OF = {
    "ANSWERED": "\\Answered",
    "DELETED": "\\Deleted",
    "DRAFT": "\\Draft",
    "FLAGGED": "\\Flagged",
    "SEEN": "\\Seen",
}
_INDEXED: dict[str, tuple[str, ...]] = {"BODY": ("body",), "TEXT": ("headers", "body")}
"""String keys the full-text index answers, with the index columns they search."""
_STORED: dict[str, SummaryField] = {"SUBJECT": "subject", "FROM": "from"}
"""String keys answered from the decoded header values stored at delivery."""


@dataclass
class _Prepared:
    text_hits: dict[StringKey, set[int]] = field(default_factory=dict)
    summaries: dict[int, MessageSummary] = field(default_factory=dict)
    subjects: dict[int, tuple[int | None, str]] = field(default_factory=dict)
    _parsed: dict[int, ParsedMessage] = field(default_factory=dict)
    headers: dict[int, bytes] = field(default_factory=dict)
    objectids: dict[int, dict[str, str]] = field(default_factory=dict)

    def parsed(self, uid: int) -> ParsedMessage | None:
        """The stored structure, decoded only for keys the summary cannot answer (TO, CC, BCC)."""
        found = self._parsed.get(uid)
        summary = self.summaries.get(uid)
        if found is None and summary is not None and summary.structure_json:
            found = self._parsed[uid] = ParsedMessage.from_json(summary.structure_json)
        return found


async def search(
    store: Store, view: SelectedMailbox, program: And, saved: list[int] | None, now: float | None = None,
    among: list[int] | None = None,
) -> list[int]:
    """UIDs (ascending) of the view's messages that match ``program``; only of ``among`` (ascending,
    live UIDs of the view) when given."""
    uids = view.live_uids() if among is None else among
    prepared = _Prepared()
    await _prepare(store, view, program, uids, prepared)
    # the store already answered the top-level BODY/TEXT/SUBJECT/FROM keys: only their hits need the others
    rest = []
    for key in program.keys:
        if key == FlagKey("ALL"):
            continue  # the most common program of SORT and THREAD: nothing to evaluate per message
        if isinstance(key, StringKey) and key in prepared.text_hits:
            hits = prepared.text_hits[key]
            uids = [uid for uid in uids if uid in hits]
        elif isinstance(key, FlagKey):  # a top-level flag key (UNSEEN...): one tight loop, no entries
            uids = [uid for uid, flags in zip(uids, view.flags_of(uids), strict=True)
                    if _flag_matches(key.name, flags, view.recent, uid)]
        else:
            rest.append(key)
    if not rest:
        return uids
    evaluator = _Evaluator(view, prepared, saved or [], time.time() if now is None else now)
    remaining = And(tuple(rest))
    return [uid for uid in uids if evaluator.matches(remaining, view.entry(uid))]


async def _prepare(store: Store, view: SelectedMailbox, program: And, uids: list[int], prepared: _Prepared) -> None:
    keys = list(walk(program))
    for key in keys:
        if not isinstance(key, StringKey) or key in prepared.text_hits:
            continue
        if key.name in _INDEXED:
            prepared.text_hits[key] = await store.search_text(view.id, key.value, _INDEXED[key.name])
        elif key.name in _STORED:
            prepared.text_hits[key] = await store.search_summary(view.id, _STORED[key.name], key.value)
    sent_days = [key.date for key in keys if isinstance(key, DateKey) and key.name.startswith("SENT")]
    if sent_days:
        prepared.subjects = await store.dates_and_subjects(view.id)  # one query, decoded at delivery
    wants_ids = any(isinstance(key, StringKey) and key.name in ("EMAILID", "THREADID") for key in keys)
    needed = uids if wants_ids or any(_needs_structure(key) for key in keys) else _near(prepared, uids, sent_days)
    if needed:
        entries = [view.entry(uid) for uid in needed]
        summaries = await store.get_summaries([e.message_id for e in entries])
        for entry in entries:
            summary = summaries.get(entry.message_id)
            if summary is not None:
                prepared.summaries[entry.uid] = summary
                parsed = prepared.parsed(entry.uid) if wants_ids else None
                if parsed is not None:  # RFC 8474 6: SEARCH EMAILID / THREADID
                    prepared.objectids[entry.uid] = {
                        "EMAILID": objectid.email_id(summary.blob),
                        "THREADID": objectid.thread_id(parsed, summary.blob),
                    }
    if any(isinstance(key, HeaderKey) for key in keys):
        for uid in uids:
            entry = view.entry(uid)
            try:
                raw = await store.read_message(entry.message_id)
            except (NotFound, FileNotFoundError):  # expunged by another session: matches no HEADER key
                continue
            blank = raw.find(b"\r\n\r\n")
            end = blank + 4 if blank >= 0 else len(raw)
            prepared.headers[uid] = raw[:end]


def _needs_structure(key: SearchKey) -> bool:
    """TO, CC and BCC read the stored envelope (FROM and SUBJECT have columns of their own)."""
    return isinstance(key, StringKey) and key.name in ("TO", "CC", "BCC")


def _near(prepared: _Prepared, uids: list[int], days: list[date]) -> list[int]:
    """Messages whose Date, in UTC, is within a day of a SENT* key's date: only for those can the
    date as written (in the sender's zone, at most 14 hours away) fall on the other side."""
    near = []
    for uid in uids:
        seconds = prepared.subjects.get(uid, (None, ""))[0]
        if seconds is not None:
            utc_day = datetime.fromtimestamp(seconds, UTC).date()
            if any(abs((utc_day - day).days) <= 1 for day in days):
                near.append(uid)
    return near


def walk(key: SearchKey) -> Iterator[SearchKey]:
    yield key
    if isinstance(key, And):
        for child in key.keys:
            yield from walk(child)
    elif isinstance(key, Not):
        yield from walk(key.key)
    elif isinstance(key, Or):
        yield from walk(key.left)
        yield from walk(key.right)


class _Evaluator:
    def __init__(self, view: SelectedMailbox, prepared: _Prepared, saved: list[int], now: float) -> None:
        self.view = view
        self.prepared = prepared
        self.saved = set(saved)
        self.now = now
        self.largest_uid = view.uids[-1] if view.uids else 0

    def matches(self, key: SearchKey, entry: ViewEntry) -> bool:
        match key:
            case And(keys):
                return all(self.matches(k, entry) for k in keys)
            case Or(left, right):
                return self.matches(left, entry) or self.matches(right, entry)
            case Not(inner):
                return not self.matches(inner, entry)
            case FlagKey(name):
                return _flag_matches(name, entry.flags, self.view.recent, entry.uid)
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
                return fold(value) in fold(decode_header_value(text))
        return False

    def _number(self, name: str, value: int, entry: ViewEntry) -> bool:
        if name == "LARGER":
            return entry.size > value
        if name == "SMALLER":
            return entry.size < value
        age = self.now - entry.internal_seconds
        return age >= value if name == "OLDER" else age <= value  # RFC 5032

    def _date(self, name: str, day: date, entry: ViewEntry) -> bool:
        if name.startswith("SENT"):
            actual_day = self._sent_day(entry.uid)
            if actual_day is None:
                return False
            actual = actual_day
            name = name[4:]
        elif name.startswith("SAVED"):
            actual, name = entry.save_date.astimezone(UTC).date(), name[5:]
        else:  # the INTERNALDATE's date as given to APPEND (in its zone), as SENT* reads the Date header's
            actual = entry.internal_date.date()
        return {"BEFORE": actual < day, "ON": actual == day, "SINCE": actual >= day}[name]

    def _sent_day(self, uid: int) -> date | None:
        """RFC 9051 6.4.4: the Date header's date as written, disregarding time and timezone."""
        parsed = self.prepared.parsed(uid)
        if parsed is not None and parsed.date is not None:
            return parsed.date.date()
        seconds = self.prepared.subjects.get(uid, (None, ""))[0]
        return None if seconds is None else datetime.fromtimestamp(seconds, UTC).date()  # far from the key's day

    def _in_set(self, uid: bool, numbers: SequenceSet, entry: ViewEntry) -> bool:
        if numbers.saved:
            return entry.uid in self.saved
        if uid:
            return numbers.contains(entry.uid, self.largest_uid)
        seq = self.view.seq_of(entry.uid)
        return seq is not None and numbers.contains(seq, self.view.exists)

    def _string(self, name: str, value: str, entry: ViewEntry) -> bool:
        if name in _INDEXED or name in _STORED:
            return entry.uid in self.prepared.text_hits.get(StringKey(name, value), set())
        if name in ("EMAILID", "THREADID"):
            return self.prepared.objectids.get(entry.uid, {}).get(name) == value
        parsed = self.prepared.parsed(entry.uid)
        if parsed is None:
            return False
        envelope = parsed.envelope
        addresses = {"TO": envelope.to, "CC": envelope.cc, "BCC": envelope.bcc}[name]
        return fold(value) in fold(display_addresses(addresses))


def _flag_matches(name: str, flags: frozenset[str], recent: RecentUids, uid: int) -> bool:
    if name in ("ALL", "SAVEDATESUPPORTED"):
        return True
    if name in ("RECENT", "OLD"):  # RFC 3501 6.4.4: OLD is NOT RECENT
        return (uid in recent) == (name == "RECENT")
    if name == "NEW":
        return uid in recent and "\\Seen" not in flags
    negate = name.startswith("UN")
    present = _FLAG_OF[name[2:] if negate else name] in flags
    return present != negate
