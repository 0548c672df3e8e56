"""Parse once, at delivery (principle 3): everything later reads is computed here, off the event loop."""

from __future__ import annotations

from pillarbox.mime.search_text import search_text
from pillarbox.mime.structure import parse_message
from pillarbox.store.blobs import blob_name
from pillarbox.store.sqlite.messages import PreparedMessage
from pillarbox.store.textfold import fold


def prepare_message(raw: bytes) -> PreparedMessage:
    parsed = parse_message(raw)
    headers_text, body_text = search_text(raw, parsed)
    return PreparedMessage(
        blob=blob_name(raw),
        size=len(raw),
        subject=parsed.subject,
        from_=parsed.from_,
        date=int(parsed.date.timestamp()) if parsed.date is not None else None,
        header_message_id=parsed.message_id,
        structure_json=parsed.to_json(),
        # folded once here (case and accents, see textfold), so SEARCH is one LIKE on the trigram index
        headers_text=fold(headers_text),
        body_text=fold(body_text),
        thread_refs=" ".join(parsed.references) or parsed.in_reply_to or "",
    )
