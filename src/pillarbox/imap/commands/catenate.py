"""CATENATE (RFC 4469): APPEND (and REPLACE) a message joined from literals and parts of stored messages.

Each URL names a message or part on this server (``imap.imap_url``): the mailbox is resolved for this
user as any name (its own, or one shared with it: reading takes "r"), its UIDVALIDITY must be the
one given, and the octets are those FETCH BODY.PEEK[section]<partial> would return (3), read without
setting \\Seen. An absolute URL is taken when URLAUTH authorizes this user to have it (RFC 4467).
The first URL that cannot be served makes the command NO [BADURL url] (4.1), a result
larger than the APPEND limit NO [TOOBIG] (4.2); nothing is stored then.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from pillarbox.imap import response as r
from pillarbox.imap import urlauth
from pillarbox.imap.commands.access import resolve
from pillarbox.imap.imap_url import parse_message_url
from pillarbox.imap.parser.commands import AppendMessage

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
            return r.no(tag, r.code_badurl(value), "Cannot fetch that URL")
        size += len(piece)
        if size > session.settings.max_literal:
            return r.no(tag, r.TOOBIG, "The message would be too large")
        pieces.append(piece)
    return dataclasses.replace(message, data=b"".join(pieces), catenate=())


async def _url_octets(session: IMAPSession, text: str) -> bytes:
    """A relative message URL of this server, or a URLAUTH one this user may have (RFC 4467 9)."""
    if text.lower().startswith("imap://"):
        try:
            return await urlauth.fetch(session.store, text, session.user.address if session.user else None,
                                       submission=False, now=session.store.now())
        except urlauth.URLAuthError as exc:
            raise _BadURL from exc
    try:
        url = parse_message_url(text)
    except ValueError as exc:
        raise _BadURL from exc
    target = await resolve(session, url.mailbox)
    if target is None or "r" not in target.rights:
        raise _BadURL
    if url.uidvalidity is not None and url.uidvalidity != target.mailbox.uidvalidity:
        raise _BadURL
    octets = await urlauth.message_octets(session.store, target.mailbox.id, url)
    if octets is None:
        raise _BadURL
    return octets

