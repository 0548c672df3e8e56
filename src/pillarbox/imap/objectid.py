"""Object identifiers (RFC 8474) and message previews (RFC 8970), derived from what delivery stored.

EMAILID names the immutable message: the content address of its blob (the SHA-256 of its bytes),
so a COPY or MOVE keeps it, an identical message delivered twice shares it (RFC 8474 5.1 allows
that: the content is the same), and a deleted message's id is never given to different content.

THREADID groups a conversation. It is computed from the Message-ID, In-Reply-To and References
fields parsed at delivery: by RFC 5322 3.6.4 a reply's References starts with the thread's first
message, so the thread root is ``references[0]``, else the In-Reply-To parent, else the message's
own Message-ID; the id is a hash of that root. It is stable and needs no lookup at delivery. Where
it falls short: a reply that carries only In-Reply-To is grouped with its parent, not the root, and
a message without any Message-ID is a thread of its own (its EMAILID-derived id).

MAILBOXID lives in commands/folders.py (``mailbox_id``).

PREVIEW is the first text part (plain preferred, else HTML reduced to text), decoded, whitespace
collapsed, cut at 200 characters (RFC 8970 3.3 SHOULD; 256 is the MUST). It is computed on demand
from the stored structure and bytes, so PREVIEW (LAZY) is answered the same way, never with NIL.
"""

from __future__ import annotations

import hashlib
import re

from pillarbox.mime import ParsedMessage
from pillarbox.mime.model import Part
from pillarbox.mime.search_text import part_text

PREVIEW_CHARS = 200
_SPACE = re.compile(r"\s+")


def email_id(blob: str) -> str:
    """``objectid = 1*255(ALPHA / DIGIT / "_" / "-")``: "M" and 24 hex digits of the blob's hash."""
    return "M" + blob[:24]


def thread_id(parsed: ParsedMessage, blob: str) -> str:
    root = parsed.references[0] if parsed.references else parsed.in_reply_to or parsed.message_id
    if not root:
        return "T" + blob[:24]
    return "T" + hashlib.sha256(root.strip().encode("utf-8", "surrogateescape")).hexdigest()[:24]


def preview(raw: bytes, parsed: ParsedMessage) -> str:
    part = _first_text(parsed.root, "plain") or _first_text(parsed.root, "html")
    if part is None:
        return ""
    text = _SPACE.sub(" ", part_text(raw, part)).strip()
    return text[:PREVIEW_CHARS]


def _first_text(root: Part, subtype: str) -> Part | None:
    """The first text/<subtype> leaf that is not an attachment, depth first (RFC 8970 3.2)."""
    stack = [root]
    while stack:
        part = stack.pop()
        stack.extend(reversed(part.children))
        attached = part.disposition is not None and part.disposition[0].lower() == "attachment"
        if not part.children and part.content_type == "text" and part.content_subtype == subtype and not attached:
            return part
    return None
