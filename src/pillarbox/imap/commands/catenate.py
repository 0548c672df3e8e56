"""CATENATE (RFC 4469): APPEND (and REPLACE) a message joined from literals and parts of stored messages.

Each URL names a message or part on this server (``imap.imap_url``): the mailbox is resolved for this
user as any name (its own, or one shared with it: reading takes "r"), its UIDVALIDITY must be the
one given, and the octets are those FETCH BODY.PEEK[section]<partial> would return (3), read without
setting \\Seen. The first URL that cannot be served makes the command NO [BADURL url] (4.1), a result
larger than the APPEND limit NO [TOOBIG] (4.2); nothing is stored then.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from pillarbox.imap import response as r
from pillarbox.imap.commands.access import resolve
from pillarbox.imap.imap_url import MessageURL, parse_message_url
from pillarbox.imap.parser.commands import AppendMessage
from pillarbox.imap.parser.fetch_att import Section, parse_section
from pillarbox.imap.parser.primitives import ParseError, Reader
from pillarbox.imap.sections import section_bytes
from pillarbox.mime import parse_message

if TYPE_CHECKING:
    from pillarbox.imap.session import IMAPSession


class _BadURL(Exception):
    pass


async def joined(session: IMAPSession, tag: str, message: AppendMessage) -> AppendMessage | r.TaggedReply:
    """``message`` with its CATENATE parts joined into its data (unchanged without them), or the NO."""
    if not message.catenate:
        return message
    pieces: list[bytes] = []
    size = 0
    for kind, value in message.catenate:
        try:
            piece = value if kind == "TEXT" else await _url_octets(session, value.decode("utf-8"))
        except (_BadURL, UnicodeDecodeError):
            return r.no(tag, f"BADURL {_code_text(value)}", "Cannot fetch that URL")
        size += len(piece)
        if size > session.settings.max_literal:
            return r.no(tag, r.TOOBIG, "The message would be too large")
        pieces.append(piece)
    return dataclasses.replace(message, data=b"".join(pieces), catenate=())


async def _url_octets(session: IMAPSession, text: str) -> bytes:
    try:
        url = parse_message_url(text)
        section = _section(url)
    except (ValueError, ParseError) as exc:
        raise _BadURL from exc
    target = await resolve(session, url.mailbox)
    if target is None or "r" not in target.rights:
        raise _BadURL
    if url.uidvalidity is not None and url.uidvalidity != target.mailbox.uidvalidity:
        raise _BadURL
    raw = (await session.store.read_by_uids(target.mailbox.id, [url.uid])).get(url.uid)
    if raw is None:
        raise _BadURL
    data = raw if section is None else section_bytes(raw, parse_message(raw), section)
    if url.partial is not None:
        start, length = url.partial
        data = data[start:] if length is None else data[start : start + length]
    return data


def _section(url: MessageURL) -> Section | None:
    """The URL's section as FETCH's section grammar reads it (RFC 5092 uses the same words)."""
    if url.section is None:
        return None
    reader = Reader(b"[" + url.section.encode("utf-8") + b"]")
    section = parse_section(reader)
    reader.end()
    return section


def _code_text(url: bytes) -> str:
    """``url-resp-text``: any TEXT-CHAR but "]" (RFC 4469 5)."""
    return url.decode("utf-8", "replace").replace("]", "%5D").replace("\r", "").replace("\n", "")
