"""Parse once, at delivery (principle 3): everything later reads is computed here, off the event loop;
the text for the search index once, when the indexer reaches the message."""

from __future__ import annotations

from pillarbox.mime.search_text import search_text
from pillarbox.mime.structure import parse_message
from pillarbox.mime.subject import base_subject
from pillarbox.store.blobs import blob_name
from pillarbox.store.sqlite.messages import PreparedMessage
from pillarbox.store.textfold import fold

INLINE_BODY_LIMIT = 128 * 1024
"""Bodies up to this size are stored in their database row, larger ones in a blob file. SQLite reads
and writes blobs below roughly 100 KB faster than the filesystem does (sqlite.org/intern-v-extern-blob),
and a row needs no syncfs of its own: the commit that makes the row durable makes the body durable."""


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


def index_text(raw: bytes) -> tuple[str, str]:
    """(header text, body text) for the full-text index, folded once here (case and accents, see
    textfold), so SEARCH compares folded needles with folded terms and text."""
    headers_text, body_text = search_text(raw, parse_message(raw))
    return fold(headers_text), fold(body_text)
