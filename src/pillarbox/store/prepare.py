"""Parse once, at delivery (principle 3): everything later reads is computed here, off the event loop;
the text for the search index once, when the indexer reaches the message, from the structure parsed
at delivery (not a second parse). Shared by every backend."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pillarbox.mime.model import ParsedMessage
from pillarbox.mime.search_text import search_text
from pillarbox.mime.structure import parse_message
from pillarbox.mime.subject import base_subject
from pillarbox.obs import get_logger, log_event
from pillarbox.store.blobs import blob_name
from pillarbox.store.textfold import fold

log = get_logger("store")

INLINE_BODY_LIMIT = 128 * 1024
"""Bodies up to this size are stored in their database row, larger ones in a blob file. SQLite reads
and writes blobs below roughly 100 KB faster than the filesystem does (sqlite.org/intern-v-extern-blob),
and a row needs no syncfs of its own: the commit that makes the row durable makes the body durable."""
INLINE_PARSE_LIMIT = 32 * 1024
INDEX_BATCH = 64
INDEX_BATCH_BYTES = 512 * 1024  # a few ms of indexing: what a delivery may wait behind


@dataclass(frozen=True)
class PreparedMessage:
    """A message parsed once, before it reaches the writer (principle 3)."""

    blob: str
    size: int
    subject: str
    from_: str
    date: int | None
    header_message_id: str | None
    structure_json: str
    thread_refs: str | None = None
    """References (else In-Reply-To) msg-ids, space-separated: what THREAD=REFERENCES links by."""
    base_subject: tuple[str, bool] | None = None
    """RFC 5256 2.1: the base subject and whether the subject marked a reply (SORT and THREAD compare it)."""
    body: bytes | None = None
    """The bytes themselves when small enough to live in the database; None: they go to the blob file."""


def prepare_message(raw: bytes) -> PreparedMessage:
    parsed = parse_message(raw)
    return PreparedMessage(
        blob=blob_name(raw),
        size=len(raw),
        subject=parsed.subject,
        from_=parsed.from_,
        date=int(parsed.date.timestamp()) if parsed.date is not None else None,
        header_message_id=parsed.message_id,
        structure_json=parsed.to_json(),
        thread_refs=" ".join(parsed.references) or parsed.in_reply_to or "",
        base_subject=base_subject(parsed.subject),
        body=raw if len(raw) <= INLINE_BODY_LIMIT else None,
    )


async def prepare(raw: bytes) -> PreparedMessage:
    """Parse a small message right here, a large one in a thread. Parsing is Python, so a thread buys
    no parallelism (the GIL), only a responsive loop; for a few KB the hop costs more than the parse."""
    if len(raw) <= INLINE_PARSE_LIMIT:
        return prepare_message(raw)
    return await asyncio.to_thread(prepare_message, raw)


def index_text(raw: bytes, structure_json: str | None = None) -> tuple[str, str]:
    """(header text, body text) for the full-text index, folded once here (case and accents, see
    textfold), so SEARCH compares folded needles with folded terms and text. ``structure_json``: the
    structure stored at delivery (``PreparedMessage.structure_json``); reading it back costs less than
    half of parsing ``raw`` again. Without one it can read (an empty column, another format version),
    ``raw`` is parsed."""
    headers_text, body_text = search_text(raw, _parsed(raw, structure_json))
    return fold(headers_text), fold(body_text)


def _parsed(raw: bytes, structure_json: str | None) -> ParsedMessage:
    if structure_json:
        try:
            return ParsedMessage.from_json(structure_json)
        except ValueError:  # a format version this code does not know (mime/codec.py refuses it)
            pass
    return parse_message(raw)


def _index_text(raw: bytes, structure_json: str | None) -> tuple[str, str]:
    return index_text(raw, structure_json)  # looked up at call time, so a test can make it fail


def index_texts(batch: Sequence[tuple[int, Callable[[], bytes], str | None]]) -> list[tuple[int, str, str]]:
    """(message id, header text, body text) of each (message id, reader of its bytes, its stored
    structure); a message whose bytes are gone or cannot be parsed gets empty texts, so that it still
    leaves the backlog."""
    texts = []
    for message_id, read, structure_json in batch:
        try:
            raw = read()
        except FileNotFoundError:
            # deleted since the batch was read (then recording it finds nothing to do), or its file
            # is lost (find_problems reports it): either way it must leave the backlog
            texts.append((message_id, "", ""))
            continue
        try:
            texts.append((message_id, *_index_text(raw, structure_json)))
        except Exception as exc:  # one message must not stall the backlog behind it
            log_event(log, "error", "message text not indexable", message_id=message_id, error=repr(exc))
            texts.append((message_id, "", ""))
    return texts
