"""FETCH (RFC 9051 6.4.5): headers first, bodies on demand, all from what delivery computed.

Per message a FETCH needs up to three things, fetched only when an item asks for them: the view's
entry (FLAGS, UID, sizes, dates, MODSEQ: free), the parsed structure saved at delivery (ENVELOPE,
BODYSTRUCTURE, section offsets: one small row per message, cached), and the stored bytes (BODY[...],
BINARY[...], RFC822*: a blob read). A client listing a mailbox (FLAGS UID RFC822.SIZE ENVELOPE
BODYSTRUCTURE) never touches a blob.

Non-PEEK body items set \\Seen (RFC 9051 6.4.5) unless the mailbox is read-only; the FETCH response
then carries the new FLAGS too.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pillarbox.errors import ProtocolError
from pillarbox.imap import objectid
from pillarbox.imap import response as r
from pillarbox.imap.bodystructure import body_structure, envelope
from pillarbox.imap.parser.fetch_att import FetchAtt
from pillarbox.imap.sections import binary_bytes, binary_part, section_bytes
from pillarbox.imap.selected import SelectedMailbox
from pillarbox.mime import KNOWN_ENCODINGS, ParsedMessage
from pillarbox.store.api import Store
from pillarbox.store.records import MessageEntry

_NEEDS_BYTES = frozenset({"RFC822", "RFC822.HEADER", "RFC822.TEXT", "BODY", "BINARY", "BINARY.SIZE", "PREVIEW"})
_NEEDS_PARSED = frozenset({"ENVELOPE", "BODYSTRUCTURE", "EMAILID", "THREADID"})
_SETS_SEEN = frozenset({"RFC822", "RFC822.TEXT"})
_PARSED_CACHE_SIZE = 2048
_SHARED_CACHE_SIZE = 20_000  # a few KiB each: tens of MiB for the busiest mailboxes of a server


@dataclass(frozen=True)
class FetchOptions:
    uid: bool
    utf8: bool
    condstore: bool


class StructureCache:
    """ParsedMessage (and its rendered ENVELOPE/BODYSTRUCTURE) by stored message id, least recently
    used first out.

    Stored messages never change, so one cache serves every session of the process (``SHARED``): a
    mailbox listed by ten clients is decoded and rendered once, not ten times. Rebuilding the tree
    from JSON and rendering it was most of a FETCH 1:* (bench/README.md, IMAP).
    """

    def __init__(self, size: int = _PARSED_CACHE_SIZE) -> None:
        self._items: OrderedDict[int, ParsedMessage] = OrderedDict()
        self._blobs: dict[int, str] = {}
        self._rendered: dict[tuple[int, str, bool], bytes] = {}
        self._size = size

    def blob(self, mid: int) -> str:
        """The blob name of a message loaded by ``get_many`` (its EMAILID comes from it)."""
        return self._blobs.get(mid, "")

    async def get_many(self, store: Store, message_ids: Sequence[int]) -> dict[int, ParsedMessage]:
        found = {}
        for mid in message_ids:
            parsed = self._items.get(mid)
            if parsed is not None:
                self._items.move_to_end(mid)
                found[mid] = parsed
        missing = [mid for mid in message_ids if mid not in found]
        if missing:
            for mid, summary in (await store.get_summaries(missing)).items():
                self._blobs[mid] = summary.blob
                found[mid] = self._put(mid, ParsedMessage.from_json(summary.structure_json))
        return found

    def rendered(self, mid: int, name: str, utf8: bool, render: Callable[[], bytes]) -> bytes:
        key = (mid, name, utf8)
        data = self._rendered.get(key)
        if data is None:
            data = self._rendered[key] = render()
        return data

    def _put(self, mid: int, parsed: ParsedMessage) -> ParsedMessage:
        self._items[mid] = parsed
        if len(self._items) > self._size:
            evicted, _ = self._items.popitem(last=False)
            self._blobs.pop(evicted, None)
            for name in ("ENVELOPE", "BODYSTRUCTURE", "BODY"):
                for utf8 in (False, True):
                    self._rendered.pop((evicted, name, utf8), None)
        return parsed


SHARED = StructureCache(_SHARED_CACHE_SIZE)


def sets_seen(items: Sequence[FetchAtt]) -> bool:
    return any(
        (item.name in ("BODY", "BINARY") and item.section is not None and not item.peek) or item.name in _SETS_SEEN
        for item in items
    )


async def fetch_responses(
    store: Store,
    view: SelectedMailbox,
    uids: Sequence[int],
    items: Sequence[FetchAtt],
    options: FetchOptions,
    cache: StructureCache,
    changed_flags: set[int],
) -> list[bytes]:
    """The ``* n FETCH`` lines for ``uids`` (ascending), ``changed_flags`` adding FLAGS to them."""
    wanted = list(items)
    if options.uid and not any(item.name == "UID" for item in wanted):
        wanted.insert(0, FetchAtt("UID"))
    if options.condstore and not any(item.name == "MODSEQ" for item in wanted):
        wanted.append(FetchAtt("MODSEQ"))  # RFC 7162 3.1.4.1 once CONDSTORE is enabled
    entries = [view.entry(uid) for uid in uids]
    parsed: dict[int, ParsedMessage] = {}
    if any(item.name in _NEEDS_PARSED or item.name in _NEEDS_BYTES for item in wanted):
        parsed = await cache.get_many(store, [e.message_id for e in entries])
    out = []
    for entry in entries:
        seq = view.seq_of(entry.uid)
        if seq is None:
            continue
        raw = await store.read_message(entry.message_id) if _needs_bytes(wanted) else b""
        message = parsed.get(entry.message_id)
        blob = cache.blob(entry.message_id)
        attributes = [_item(item, entry, message, raw, blob, options, cache) for item in wanted]
        if entry.uid in changed_flags and not any(item.name == "FLAGS" for item in wanted):
            attributes.append(("FLAGS", r.flag_list(sorted(entry.flags))))
        out.append(r.fetch_data(seq, attributes))
    return out


def _needs_bytes(items: Sequence[FetchAtt]) -> bool:
    return any(item.name in _NEEDS_BYTES and (item.name != "BODY" or item.section is not None) for item in items)


def _item(
    item: FetchAtt, entry: MessageEntry, parsed: ParsedMessage | None, raw: bytes, blob: str, options: FetchOptions,
    cache: StructureCache,
) -> tuple[str, bytes]:
    name = item.name
    if name == "UID":
        return name, b"%d" % entry.uid
    if name == "FLAGS":
        return name, r.flag_list(sorted(entry.flags))
    if name == "INTERNALDATE":
        return name, r.date_time(entry.internal_date)
    if name == "RFC822.SIZE":
        return name, b"%d" % entry.size
    if name == "MODSEQ":
        return name, b"(%d)" % entry.modseq
    if name == "SAVEDATE":
        return name, r.date_time(entry.save_date)
    if parsed is None:
        raise ProtocolError(r.no("*", r.SERVERBUG, "Message structure unavailable"))
    if name == "ENVELOPE":
        return name, cache.rendered(entry.message_id, name, options.utf8,
                                    lambda: envelope(parsed.envelope, options.utf8))
    if name == "EMAILID":
        return name, b"(%s)" % objectid.email_id(blob).encode()  # RFC 8474 5.1
    if name == "THREADID":
        return name, b"(%s)" % objectid.thread_id(parsed, blob).encode()
    if name == "PREVIEW":
        return name, r.nstring(objectid.preview(raw, parsed), options.utf8)  # RFC 8970 3
    if name in ("BODYSTRUCTURE", "BODY") and item.section is None:
        return name, cache.rendered(entry.message_id, name, options.utf8, lambda: body_structure(
            parsed.root, extensible=name == "BODYSTRUCTURE", utf8=options.utf8))
    return _content_item(item, parsed, raw)


def _content_item(item: FetchAtt, parsed: ParsedMessage, raw: bytes) -> tuple[str, bytes]:
    name = item.name
    if name == "RFC822":
        return name, r.literal(raw)
    if name == "RFC822.HEADER":
        return name, r.literal(raw[: parsed.root.header_end])
    if name == "RFC822.TEXT":
        return name, r.literal(raw[parsed.root.body_start : parsed.root.body_end])
    assert item.section is not None
    if name == "BODY":
        data = section_bytes(raw, parsed, item.section)
        return item.response_name, r.literal(_partial(data, item.partial))
    part = binary_part(parsed, item.section)
    if part is not None and item.section.part and part.encoding.upper() not in KNOWN_ENCODINGS:
        raise ProtocolError(r.no("*", r.UNKNOWN_CTE, "Unknown Content-Transfer-Encoding"))
    decoded = binary_bytes(raw, parsed, item.section)
    if name == "BINARY.SIZE":
        return item.response_name, b"%d" % len(decoded or b"")
    if decoded is None:
        return item.response_name, b"NIL"
    return item.response_name, r.literal(_partial(decoded, item.partial))


def _partial(data: bytes, partial: tuple[int, int] | None) -> bytes:
    if partial is None:
        return data
    start, length = partial
    return data[start : start + length]
