"""The features of a message for the built-in classifier: words and a few header facts, as tokens.

What goes in: the words of the Subject, the display name, address and domain of From:, the domain of
Reply-To: (and whether it differs from From:'s), the mailer, the top Content-Type and charset, the
presence of List-Unsubscribe, the words of the text parts and the host names of the links in them.
What stays out on purpose: To:, Cc:, Received: and our own fields, which every message of a user
shares (they would look like evidence while telling nothing apart).

Bounds: only the first ``SCAN_BYTES`` of a message are read, words are 2 to 30 characters, and a
message gives at most ``MAX_TOKENS`` distinct tokens. Tokens are stored as 63-bit hashes (the store
never holds a user's words); ``features`` keeps the text beside each hash for the reasons of a verdict.
"""

from __future__ import annotations

import hashlib
import re

from pillarbox.mime.addresses import parse_address_list
from pillarbox.mime.charsets import decode_charset
from pillarbox.mime.envelope import decode_header_value
from pillarbox.mime.header_view import HeaderView
from pillarbox.mime.model import Part
from pillarbox.mime.search_text import part_text
from pillarbox.mime.structure import parse_message
from pillarbox.mime.transfer import decode_body

SCAN_BYTES = 256 * 1024
MAX_TOKENS = 1500
_WORD = re.compile(r"[^\W_]{2,30}")
_URL_HOST = re.compile(r"https?://([a-z0-9.-]{1,253})", re.IGNORECASE)


def token_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


def features(raw: bytes, view: HeaderView) -> dict[int, str]:
    """hash → token text for the message ``raw`` whose header section is ``view``."""
    found: dict[int, str] = {}
    for text in _header_tokens(view) + _body_tokens(raw[:SCAN_BYTES]):
        if len(found) >= MAX_TOKENS:
            break
        found.setdefault(token_hash(text), text)
    return found


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _header_tokens(view: HeaderView) -> list[str]:
    tokens = [f"s:{word}" for word in words(decode_header_value(view.first("subject") or ""))]
    senders = parse_address_list(view.first("from"))
    from_domain = ""
    for address in senders[:1]:
        from_domain = (address.host or "").lower()
        tokens += [f"f:{address.mailbox or ''}@{from_domain}".lower(), f"fd:{from_domain}"]
        tokens += [f"fn:{word}" for word in words(decode_header_value(address.name or ""))]
    for address in parse_address_list(view.first("reply-to"))[:1]:
        reply_domain = (address.host or "").lower()
        tokens += [f"rd:{reply_domain}", f"h:reply-to-{'same' if reply_domain == from_domain else 'other'}"]
    mailer = view.first("x-mailer") or view.first("user-agent")
    if mailer:
        tokens += [f"m:{word}" for word in words(mailer)[:2]]
    content_type = (view.first("content-type") or "text/plain").lower()
    tokens.append("ct:" + content_type.partition(";")[0].strip())
    charset = re.search(r'charset="?([\w.-]+)', content_type)
    tokens.append("cs:" + (charset.group(1) if charset else "none"))
    if view.first("list-unsubscribe") is not None:
        tokens.append("h:list-unsubscribe")
    return tokens


def _body_tokens(raw: bytes) -> list[str]:
    parsed = parse_message(raw)
    parts: list[Part] = []
    _text_parts(parsed.root, parts)
    tokens: list[str] = []
    for part in parts:
        text = linked = part_text(raw, part)
        if part.content_subtype == "html":  # its links are in its tags, which its text leaves out
            linked = decode_charset(decode_body(raw, part), part.param("charset"), errors="replace")
        tokens += [f"u:{host.lower().rstrip('.')}" for host in _URL_HOST.findall(linked)]
        tokens += words(text)
    return tokens


def _text_parts(part: Part, out: list[Part]) -> None:
    """The text parts of the message (not of messages attached to it: forwarded mail is not this mail)."""
    for child in part.children:
        _text_parts(child, out)
    if not part.children and part.message is None and part.content_type == "text":
        out.append(part)
