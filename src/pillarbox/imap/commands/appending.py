"""APPEND (RFC 9051 6.3.12) with MULTIAPPEND (RFC 3502), literal8 (RFC 3516 4.4) and UTF8 (RFC 6855 4).

MULTIAPPEND is all or nothing (RFC 3502 6.3.11): the messages go to the store as one writer job,
so one message over quota (or any other refusal) leaves the mailbox exactly as it was, and the
client sees one NO. Quota refusals carry [OVERQUOTA] (RFC 9208 4.3).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from pillarbox.errors import NotFound, QuotaExceeded, StoreError
from pillarbox.imap import response as r
from pillarbox.imap.commands.folders import folder
from pillarbox.imap.parser.commands import Append
from pillarbox.mime.transport import encode_binary_parts
from pillarbox.store.records import DeliveryTarget

if TYPE_CHECKING:
    from pillarbox.imap.session import IMAPSession


async def append(session: IMAPSession, command: Append) -> r.TaggedReply:
    target = await folder(session, command.mailbox)
    if target is None:
        return r.no(command.tag, r.TRYCREATE, "No such mailbox")
    batch = []
    for message in command.messages:
        if not message.data:
            return r.no(command.tag, None, "Empty message")
        flags = frozenset(f for f in message.flags if f.lower() != "\\recent")
        batch.append((await storable(message.data), DeliveryTarget(target.id, flags, message.internal_date)))
    try:
        appended = await session.store.append_messages(target.id, batch)
    except QuotaExceeded as exc:
        return r.no(command.tag, r.OVERQUOTA, str(exc))
    except NotFound:
        return r.no(command.tag, r.TRYCREATE, "No such mailbox")
    except StoreError as exc:
        return r.store_refused(command.tag, exc)
    return r.ok(command.tag, "APPEND completed", r.code_appenduid(target.uidvalidity, [a.uid for a in appended]))


async def storable(data: bytes) -> bytes:
    """A literal8 may bring parts of binary content (RFC 3516 4.4): they are stored base64-encoded, so
    that BODY[] can send them (``mime.transport``); parsed off the loop, and only when a NUL is there."""
    return await asyncio.to_thread(encode_binary_parts, data) if b"\x00" in data else data
