"""FETCH (RFC 9051 6.4.5): headers first, bodies on demand, all from what delivery computed.

Per message a FETCH needs up to three things, fetched only when an item asks for them: the view's
entry (FLAGS, UID, sizes, dates, MODSEQ: free), the parsed structure saved at delivery (ENVELOPE,
BODYSTRUCTURE, section offsets: one small row per message, cached), and the stored bytes (BODY[...],
BINARY[...], RFC822*: a blob read). A client listing a mailbox (FLAGS UID RFC822.SIZE ENVELOPE
BODYSTRUCTURE) never touches a blob.

Everything about a stored message but its flags and MODSEQ is fixed, so the server-wide
``StructureCache`` keeps each message's fixed items as rendered the first time, a run of them (UID
RFC822.SIZE ENVELOPE BODYSTRUCTURE) as one piece of bytes: listing a mailbox listed before is then
the flags and the sequence number written around cached bytes.

Non-PEEK body items set \\Seen (RFC 9051 6.4.5) unless the mailbox is read-only; the FETCH response
then carries the new FLAGS too.
"""

from __future__ import annotations

import asyncio
import functools
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pillarbox.errors import NotFound, ProtocolError
from pillarbox.imap import objectid
from pillarbox.imap import response as r
from pillarbox.imap.bodystructure import body_structure, envelope
from pillarbox.imap.parser.fetch_att import FetchAtt
from pillarbox.imap.recent import RECENT
from pillarbox.imap.sections import binary_bytes, binary_part, section_bytes
from pillarbox.imap.selected import SelectedMailbox
from pillarbox.imap.snapshot import ViewEntry
from pillarbox.mime import KNOWN_ENCODINGS, ParsedMessage
from pillarbox.store.api import Store

_NEEDS_BYTES = frozenset({"RFC822", "RFC822.HEADER", "RFC822.TEXT", "BODY", "BINARY", "BINARY.SIZE", "PREVIEW"})
_SETS_SEEN = frozenset({"RFC822", "RFC822.TEXT"})
_CACHE_SIZE = 20_000  # about 1 KiB each: 20 MiB for the busiest mailboxes of a server
YIELD_EVERY = 32  # messages whose bytes a FETCH reads before it lets the loop serve other sessions
YIELD_EVERY_LISTED = 128
"""Messages a FETCH of what the cache holds (FLAGS ENVELOPE BODYSTRUCTURE...) lists before it lets the loop
serve other sessions: a whole 2,000-message INBOX is 10-20 ms of work in one go, which every other command of
the process waited behind (bench/README.md, IMAP latency)."""
_TREES = 2_048  # decoded trees kept (a listing of BODY[HEADER.FIELDS (...)] needs one per message)
MessageKey = tuple[int, int]
"""(UIDVALIDITY, UID): names one stored message for ever. A message id does not: SQLite gives the id
of the newest message again once that message is deleted."""


@dataclass(frozen=True)
class FetchOptions:
    uid: bool
    utf8: bool
    condstore: bool


class CachedMessage:
    """What FETCH reuses of one stored message: its blob name, its structure as saved at delivery, and
    each run of its fixed items (UID, RFC822.SIZE, ENVELOPE, BODYSTRUCTURE...) as rendered, by (names,
    utf8).

    The structure is kept as its JSON text and decoded only when an item needs the tree: a str is one
    object, the tree dozens, and the garbage collector walks every long-lived object at each full
    collection (20,000 cached trees made those most of a loaded server's collection time).
    """

    __slots__ = ("_cache", "blob", "key", "rendered", "structure", "tree")

    def __init__(self, cache: StructureCache, key: MessageKey, structure: str, blob: str) -> None:
        self._cache = cache
        self.key = key
        self.structure = structure
        self.blob = blob
        self.tree: ParsedMessage | None = None
        self.rendered: dict[tuple[tuple[str, ...], bool], bytes] = {}

    @property
    def parsed(self) -> ParsedMessage:
        tree = self.tree
        if tree is None:
            tree = self.tree = ParsedMessage.from_json(self.structure)
        self._cache.decoded(self)
        return tree


class StructureCache:
    """Stored messages' structures and rendered items by ``MessageKey``, least recently used first out.

    Stored messages never change, so one cache serves every session of the server
    (``IMAPServices.structures``): a mailbox listed by ten clients is decoded and rendered once, not
    ten times. Rebuilding the tree from JSON and rendering it was most of a FETCH 1:* (bench/README.md,
    IMAP). Decoded trees are kept for the ``trees`` most recently used messages only.
    """

    def __init__(self, size: int = _CACHE_SIZE, trees: int = _TREES) -> None:
        self._items: OrderedDict[MessageKey, CachedMessage] = OrderedDict()
        self._size = size
        self._trees: OrderedDict[MessageKey, CachedMessage] = OrderedDict()
        self._max_trees = trees

    async def get_many(self, store: Store, view: SelectedMailbox, uids: Sequence[int]) -> dict[int, CachedMessage]:
        """The messages ``uids`` of ``view`` that are still stored, by UID; the missing ones are read."""
        uidvalidity = view.mailbox.uidvalidity
        found = {}
        missing = []
        for uid in uids:
            key = (uidvalidity, uid)
            cached = self._items.get(key)
            if cached is None:
                missing.append(uid)
            else:
                self._items.move_to_end(key)
                found[uid] = cached
        if missing:
            message_ids = {uid: view.entry(uid).message_id for uid in missing}
            summaries = await store.get_summaries(list(message_ids.values()))
            for uid, message_id in message_ids.items():
                summary = summaries.get(message_id)
                if summary is not None:
                    found[uid] = self._put(CachedMessage(self, (uidvalidity, uid), summary.structure_json,
                                                         summary.blob))
        return found

    def decoded(self, message: CachedMessage) -> None:
        """``message`` has its tree decoded: keep it among the recent ones, forget the oldest one's."""
        self._trees[message.key] = message
        self._trees.move_to_end(message.key)
        if len(self._trees) > self._max_trees:
            _, oldest = self._trees.popitem(last=False)
            oldest.tree = None

    def _put(self, cached: CachedMessage) -> CachedMessage:
        self._items[cached.key] = cached
        if len(self._items) > self._size:
            _, evicted = self._items.popitem(last=False)
            evicted.tree = None
            self._trees.pop(evicted.key, None)
        return cached


def sets_seen(items: Sequence[FetchAtt]) -> bool:
    return any(
        (item.name in ("BODY", "BINARY") and item.section is not None and not item.peek) or item.name in _SETS_SEEN
        for item in items
    )


@functools.lru_cache(maxsize=1024)
def flag_list(flags: frozenset[str], recent: bool = False) -> bytes:
    """``flag-list`` of a flag set as a session is told it: sorted, then \\Recent when the message is
    recent to the session (RFC 3501 2.3.2); a mailbox has few distinct sets, each rendered once."""
    return r.flag_list([*sorted(flags), RECENT] if recent else sorted(flags))


Segment = Callable[[ViewEntry, "CachedMessage | None", bytes], bytes]
"""Renders part of one message's ``msg-att`` from its entry, cached structure and (if needed) bytes."""
_CHANGING = frozenset({"FLAGS", "MODSEQ"})
"""The items whose value changes while the message stays: everything else about it is fixed."""
_FROM_VIEW = _CHANGING | {"UID", "INTERNALDATE", "RFC822.SIZE", "SAVEDATE"}
"""The items the session's view answers alone: they are served even once the message is expunged."""


@dataclass(frozen=True)
class Fetched:
    lines: list[bytes]
    gone: list[int]
    """UIDs whose structure or bytes no longer exist (another session expunged them): no line for them."""


async def fetch_responses(
    store: Store,
    view: SelectedMailbox,
    uids: Sequence[int],
    items: Sequence[FetchAtt],
    options: FetchOptions,
    cache: StructureCache,
    changed_flags: set[int],
) -> Fetched:
    """The ``* n FETCH`` lines for ``uids`` (ascending), ``changed_flags`` adding FLAGS to them.

    A message another session expunged may be gone from the store while this session still shows
    it (RFC 2180 4.1): what the view knows is still served, and one whose structure or bytes are
    needed but gone gets no line; the caller says so in its tagged response."""
    wanted = list(items)
    if options.uid and not any(item.name == "UID" for item in wanted):
        wanted.insert(0, FetchAtt("UID"))
    if options.condstore and not any(item.name == "MODSEQ" for item in wanted):
        wanted.append(FetchAtt("MODSEQ"))  # RFC 7162 3.1.4.1 once CONDSTORE is enabled
    add_flags = bool(changed_flags) and not any(item.name == "FLAGS" for item in wanted)
    segments = _segments(wanted, options, view)
    needs_structure = any(item.name not in _FROM_VIEW for item in wanted)
    structures = await cache.get_many(store, view, uids) if needs_structure else {}
    needs_bytes = _needs_bytes(wanted)
    fetched = Fetched([], [])
    # entries one at a time: each is garbage as soon as its line is written, never a survivor the
    # collector would promote and walk again in its full collections
    for count, (seq, entry) in enumerate(view.numbered_entries(uids), 1):
        cached = structures.get(entry.uid)
        raw = await _bytes(store, entry) if needs_bytes and cached is not None else b""
        if count % (YIELD_EVERY if needs_bytes else YIELD_EVERY_LISTED) == 0:
            await asyncio.sleep(0)  # most bodies are read without a pause now: let other sessions in
        if (needs_structure and cached is None) or raw is None:
            fetched.gone.append(entry.uid)
            continue
        attributes = [segment(entry, cached, raw) for segment in segments]
        if add_flags and entry.uid in changed_flags:
            attributes.append(b"FLAGS " + flag_list(entry.flags, entry.uid in view.recent))
        fetched.lines.append(r.fetch_att_data(seq, attributes))
    return fetched


async def _bytes(store: Store, entry: ViewEntry) -> bytes | None:
    """The stored bytes, or None once the message is gone: its row deleted, or its blob file with it
    between the two reads. Ids are never reused, so an id never yields another message's bytes."""
    try:
        return await store.read_message(entry.message_id)
    except (NotFound, FileNotFoundError):
        return None


def _segments(wanted: Sequence[FetchAtt], options: FetchOptions, view: SelectedMailbox) -> list[Segment]:
    """One message's response as segments: a changing or content item alone, each run of fixed items
    as one piece, rendered the first time and then taken from the cache."""
    segments: list[Segment] = []
    run: list[FetchAtt] = []
    for item in wanted:
        if item.name not in _CHANGING and not _needs_bytes([item]):
            run.append(item)
            continue
        if run:
            segments.append(_run_segment(tuple(run), options))
            run = []
        segments.append(_changing_segment(item.name, view) or _run_segment((item,), options, keep=False))
    if run:
        segments.append(_run_segment(tuple(run), options))
    return segments


def _changing_segment(name: str, view: SelectedMailbox) -> Segment | None:
    if name == "FLAGS":
        recent = view.recent
        return lambda entry, cached, raw: b"FLAGS " + flag_list(entry.flags, entry.uid in recent)
    if name == "MODSEQ":
        return lambda entry, cached, raw: b"MODSEQ (%d)" % entry.modseq
    return None


def _run_segment(run: tuple[FetchAtt, ...], options: FetchOptions, keep: bool = True) -> Segment:
    """The segment of ``run``; ``keep``: remember it in the message's cache entry (not for bodies)."""
    key = (tuple(item.response_name for item in run), options.utf8)
    prefixes = [item.response_name.encode() + b" " for item in run]

    def render(entry: ViewEntry, cached: CachedMessage | None, raw: bytes) -> bytes:
        found = cached.rendered.get(key) if keep and cached is not None else None
        if found is None:
            found = b" ".join(prefix + _value(item, entry, cached, raw, options)
                              for item, prefix in zip(run, prefixes, strict=True))
            if keep and cached is not None:
                cached.rendered[key] = found
        return found

    return render


def _needs_bytes(items: Sequence[FetchAtt]) -> bool:
    return any(item.name in _NEEDS_BYTES and (item.name != "BODY" or item.section is not None) for item in items)


def _value(item: FetchAtt, entry: ViewEntry, cached: CachedMessage | None, raw: bytes, options: FetchOptions) -> bytes:
    name = item.name
    if name == "UID":
        return b"%d" % entry.uid
    if name == "INTERNALDATE":
        return r.date_time(entry.internal_date)
    if name == "RFC822.SIZE":
        return b"%d" % entry.size
    if name == "SAVEDATE":
        return r.date_time(entry.save_date)
    assert cached is not None, "fetch_responses reads the structure of every message that needs it"
    if name == "EMAILID":
        return b"(%s)" % objectid.email_id(cached.blob).encode()  # RFC 8474 5.1
    if whole_message(item):  # the stored bytes as they are: no tree to decode (most of a FETCH BODY[])
        return _nstring_literal(_partial(raw, item.partial))
    parsed = cached.parsed
    if name == "ENVELOPE":
        return envelope(parsed.envelope, options.utf8)
    if name in ("BODYSTRUCTURE", "BODY") and item.section is None:
        return body_structure(parsed.root, extensible=name == "BODYSTRUCTURE", utf8=options.utf8)
    if name == "THREADID":
        return b"(%s)" % objectid.thread_id(parsed, cached.blob).encode()
    if name == "PREVIEW":
        return r.nstring(objectid.preview(raw, parsed), options.utf8)  # RFC 8970 3
    return _content_item(item, parsed, raw)


def whole_message(item: FetchAtt) -> bool:
    """RFC822, BODY[] and BODY.PEEK[] (with or without <partial>): the message's bytes, all of them."""
    if item.name == "RFC822":
        return True
    return item.name == "BODY" and item.section is not None and not item.section.part and item.section.text is None


def _content_item(item: FetchAtt, parsed: ParsedMessage, raw: bytes) -> bytes:
    name = item.name
    if name == "RFC822.HEADER":
        return _nstring_literal(raw[: parsed.root.header_end])
    if name == "RFC822.TEXT":
        return _nstring_literal(raw[parsed.root.body_start : parsed.root.body_end])
    assert item.section is not None
    if name == "BODY":
        return _nstring_literal(_partial(section_bytes(raw, parsed, item.section), item.partial))
    part = binary_part(parsed, item.section)
    if part is not None and item.section.part and part.encoding.upper() not in KNOWN_ENCODINGS:
        raise ProtocolError(r.no("*", r.UNKNOWN_CTE, "Unknown Content-Transfer-Encoding"))
    decoded = binary_bytes(raw, parsed, item.section)
    if name == "BINARY.SIZE":
        return b"%d" % len(decoded or b"")
    if decoded is None:
        return b"NIL"
    return r.literal(_partial(decoded, item.partial))


def _nstring_literal(data: bytes) -> bytes:
    """BODY[...] and RFC822* are an ``nstring`` (RFC 9051 9), never a ``literal8``, and a literal cannot
    hold NUL. Parts of binary content are stored base64-encoded (``mime.transport``); a NUL left in a
    message stored before that goes out as 0x80, which keeps every size and offset (BINARY[...]
    still returns the octets themselves)."""
    return r.literal(data.replace(b"\x00", b"\x80"))


def _partial(data: bytes, partial: tuple[int, int] | None) -> bytes:
    if partial is None:
        return data
    start, length = partial
    return data[start : start + length]
