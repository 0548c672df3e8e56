"""GENURLAUTH, RESETKEY and URLFETCH (RFC 4467); the authorization itself is ``imap.urlauth``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pillarbox.imap import response as r
from pillarbox.imap import urlauth
from pillarbox.imap.commands.folders import folder
from pillarbox.imap.parser.commands import UrlAuthCommand

if TYPE_CHECKING:
    from pillarbox.imap.session import IMAPSession


async def urlauth_command(session: IMAPSession, command: UrlAuthCommand) -> r.TaggedReply:
    if command.name == "GENURLAUTH":
        return await _generate(session, command)
    if command.name == "RESETKEY":
        return await _reset(session, command)
    return await _fetch(session, command)


async def _generate(session: IMAPSession, command: UrlAuthCommand) -> r.TaggedReply:
    """7.1: each rump URL of one of this user's messages, authorized; the first refused one is NO [BADURL]."""
    assert session.user is not None
    full = []
    for rump, mechanism in zip(command.urls, command.mechanisms, strict=True):
        try:
            url = urlauth.parse(rump)
            mailbox = await folder(session, url.message.mailbox)
            if mechanism != urlauth.MECHANISM or mailbox is None or (
                    await urlauth.message_octets(session.store, mailbox.id, url.message)) is None:
                raise urlauth.URLAuthError("no such message of yours, or no such mechanism")
            full.append(await urlauth.generate(session.store, session.user.address, mailbox, rump))
        except urlauth.URLAuthError:
            return r.no(command.tag, r.code_badurl(rump), "Cannot authorize that URL")
    session.send(r.untagged(b"GENURLAUTH " + b" ".join(r.astring(url) for url in full)))
    return r.ok(command.tag, "GENURLAUTH completed")


async def _reset(session: IMAPSession, command: UrlAuthCommand) -> r.TaggedReply:
    """7.2: a new access key for one mailbox (or every mailbox of the user): its URLs stop working."""
    assert session.user is not None
    if any(mechanism != urlauth.MECHANISM for mechanism in command.mechanisms):
        return r.no(command.tag, None, "Unknown mechanism")
    if command.mailbox is not None:
        mailbox = await folder(session, command.mailbox)
        if mailbox is None:
            return r.no(command.tag, r.NONEXISTENT, "No such mailbox")
        mailboxes = [mailbox]
    else:
        mailboxes = await session.store.list_mailboxes(session.user.id)
    for mailbox in mailboxes:
        await session.store.urlauth_key(mailbox.id, reset=True)
    return r.ok(command.tag, "RESETKEY completed")


async def _fetch(session: IMAPSession, command: UrlAuthCommand) -> r.TaggedReply:
    """7.3: each URL with its octets, NIL for one this user may not have (or that names nothing)."""
    assert session.user is not None
    answers = []
    for url in command.urls:
        try:
            octets: bytes | None = await urlauth.fetch(session.store, url, session.user.address, submission=False,
                                                       now=session.store.now())
        except urlauth.URLAuthError:
            octets = None
        answers.append(r.astring(url) + b" " + (b"NIL" if octets is None else r.literal(octets)))
    session.send(r.untagged(b"URLFETCH " + b" ".join(answers)))
    return r.ok(command.tag, "URLFETCH completed")

