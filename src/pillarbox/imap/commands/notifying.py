"""The NOTIFY command (RFC 5465 3.1); the watch itself is ``imap.notify``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pillarbox.imap import notify
from pillarbox.imap import response as r
from pillarbox.imap.parser.commands import Notify

if TYPE_CHECKING:
    from pillarbox.imap.session import IMAPSession


async def notify_command(session: IMAPSession, command: Notify) -> r.TaggedReply:
    """NOTIFY NONE ends the watch; NOTIFY SET replaces it, after an implicit NOOP (3.1), or is NO
    [BADEVENT (what we support)] when it asks for an event we do not support (3.1)."""
    if command.groups is None:
        notify.stop(session)
        return r.ok(command.tag, "NOTIFY completed")
    if notify.unsupported(command.groups):
        return r.no(command.tag, f"BADEVENT ({' '.join(notify.SUPPORTED)})", "Unsupported event")
    await notify.start(session, command.groups, command.status)
    return r.ok(command.tag, "NOTIFY completed")
