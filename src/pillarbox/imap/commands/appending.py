"""APPEND (RFC 9051 6.3.12) with MULTIAPPEND (RFC 3502), literal8 (RFC 3516 4.4) and UTF8 (RFC 6855 4);
REPLACE (RFC 8508).

MULTIAPPEND is all or nothing (RFC 3502 6.3.11): the messages go to the store as one writer job,
so one message over quota (or any other refusal) leaves the mailbox exactly as it was, and the
client sees one NO. Quota refusals carry [OVERQUOTA] (RFC 9208 4.3).

REPLACE is APPEND plus UID EXPUNGE of one message of the selected mailbox as one store change
(``Store.replace_message``): no intermediate \\Deleted state, quota counts the net growth, and a
refusal changes nothing (3.4). APPENDUID goes in an untagged OK before the EXISTS and EXPUNGE (4.3).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from pillarbox.errors import NotFound, QuotaExceeded, StoreError
from pillarbox.imap import response as r
from pillarbox.imap.commands.access import Target, require
from pillarbox.imap.commands.catenate import joined
from pillarbox.imap.commands.folders import folder
from pillarbox.imap.parser.commands import Append, AppendMessage, Replace
from pillarbox.imap.rights import settable
from pillarbox.mime.transport import encode_binary_parts
from pillarbox.store.records import DeliveryTarget

if TYPE_CHECKING:
    from pillarbox.imap.session import IMAPSession


async def append(session: IMAPSession, command: Append) -> r.TaggedReply:
    target = await _insertable(session, command.tag, command.mailbox)
    if isinstance(target, r.TaggedReply):
        return target
    messages = []
    for message in command.messages:
        whole = await joined(session, command.tag, message)  # RFC 4469
        if isinstance(whole, r.TaggedReply):
            return whole
        messages.append(whole)
    if not all(message.data for message in messages):
        return r.no(command.tag, None, "Empty message")
    batch = [await _delivery(message, target.mailbox.id, target.rights) for message in messages]
    try:
        appended = await session.store.append_messages(target.mailbox.id, batch)
    except QuotaExceeded as exc:
        return r.no(command.tag, r.OVERQUOTA, str(exc))
    except NotFound:
        return r.no(command.tag, r.TRYCREATE, "No such mailbox")
    except StoreError as exc:
        return r.store_refused(command.tag, exc)
    return r.ok(command.tag, "APPEND completed",
                r.code_appenduid(target.mailbox.uidvalidity, [a.uid for a in appended]))


async def _insertable(session: IMAPSession, tag: str, name: str) -> Target | r.TaggedReply:
    """APPEND's (and REPLACE's) target: it needs "i" (RFC 4314 4); a missing one is TRYCREATE."""
    found = await require(session, tag, name, "i")
    if isinstance(found, r.TaggedReply) and found.code == r.NONEXISTENT:
        return r.no(tag, r.TRYCREATE, "No such mailbox")
    return found


async def _delivery(message: AppendMessage, mailbox_id: int, rights: str) -> tuple[bytes, DeliveryTarget]:
    """The bytes and target of one message; flags the user may not set are left out, not refused
    (RFC 4314 4: "MUST NOT fail")."""
    flags = frozenset(settable((f for f in message.flags if f.lower() != "\\recent"), rights))
    return await storable(message.data), DeliveryTarget(mailbox_id, flags, message.internal_date)


async def replace(session: IMAPSession, command: Replace) -> r.TaggedReply:
    view = session.selected
    assert view is not None
    if view.read_only:
        return r.no(command.tag, r.READ_ONLY, "Mailbox is read-only")
    if not {"t", "e"} <= set(session.rights):  # RFC 8508 4.1: what UID STORE \Deleted and UID EXPUNGE take
        return r.no(command.tag, r.NOPERM, "Permission denied")
    if not command.uid and command.number > view.exists:
        return r.bad(command.tag, "Invalid message sequence number")
    uid = command.number if command.uid else view.uid_at(command.number)
    if view.seq_of(uid) is None or uid in view.pending_expunges:
        return r.no(command.tag, r.EXPUNGEISSUED if not command.uid else None, "No such message")
    target = await _insertable(session, command.tag, command.mailbox)
    if isinstance(target, r.TaggedReply):
        return target
    message = await joined(session, command.tag, command.message)  # RFC 8508 4.2: CATENATE too
    if isinstance(message, r.TaggedReply):
        return message
    if not message.data:
        return r.no(command.tag, None, "Empty message")
    raw, delivery = await _delivery(message, target.mailbox.id, target.rights)
    try:
        appended = await session.store.replace_message(raw, delivery, (view.id, uid))
    except QuotaExceeded as exc:
        return r.no(command.tag, r.OVERQUOTA, str(exc))
    except NotFound:  # the target went away, or another session expunged the message meanwhile
        if await folder(session, command.mailbox) is None:
            return r.no(command.tag, r.TRYCREATE, "No such mailbox")
        return r.no(command.tag, r.EXPUNGEISSUED, "No such message")
    except StoreError as exc:
        return r.store_refused(command.tag, exc)
    code = r.code_appenduid(target.mailbox.uidvalidity, [appended.uid])
    session.send(r.UntaggedReply("OK", "Replacement Message ready", code).to_bytes())
    return r.ok(command.tag, f"{'UID ' if command.uid else ''}REPLACE completed")


async def storable(data: bytes) -> bytes:
    """A literal8 may bring parts of binary content (RFC 3516 4.4): they are stored base64-encoded, so
    that BODY[] can send them (``mime.transport``); parsed off the loop, and only when a NUL is there."""
    return await asyncio.to_thread(encode_binary_parts, data) if b"\x00" in data else data
