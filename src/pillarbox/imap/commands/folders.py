"""Mailbox commands (RFC 9051 6.3): CREATE (with SPECIAL-USE, RFC 6154), DELETE, RENAME, (UN)SUBSCRIBE,
STATUS (with STATUS=SIZE); SELECT and EXAMINE are in ``selecting``, LIST and LSUB in ``listing``.

Names: hierarchy delimiter "/", INBOX case-insensitive, names already decoded from modified UTF-7
by the parser.
"""

from __future__ import annotations

import bisect
import contextlib
from typing import TYPE_CHECKING

from pillarbox.errors import AlreadyExists, NotFound, StoreError
from pillarbox.imap import response as r
from pillarbox.imap.parser.commands import Create, MailboxCommand, Rename, Status
from pillarbox.store.records import Mailbox

if TYPE_CHECKING:
    from pillarbox.imap.session import IMAPSession

DELIMITER = "/"
SHARED_ROOT = "Shared"
"""The shared namespace (RFC 2342): other users' mailboxes as ``Shared/<owner>/<name>`` (``access``)."""
MAX_NAME = 512
CREATABLE_USES = frozenset({"\\Archive", "\\Drafts", "\\Junk", "\\Sent", "\\Trash"})
"""What CREATE (USE) may give a mailbox (RFC 6154 3): \\All and \\Flagged name virtual mailboxes, which a
folder of real messages is not, so they are refused with [USEATTR] as the RFC's example 5.3 does."""


def valid_name(name: str) -> bool:
    parts = name.split(DELIMITER)
    return 0 < len(name) <= MAX_NAME and all(parts) and not any(c in name for c in "*%\r\n\0") and name.isprintable()


async def folder(session: IMAPSession, name: str) -> Mailbox | None:
    assert session.user is not None
    return await session.store.get_mailbox(session.user.id, name)


async def create(session: IMAPSession, command: Create) -> r.TaggedReply:
    name = command.mailbox.rstrip(DELIMITER)  # RFC 9051 6.3.4: a trailing delimiter is ignored
    if not valid_name(name):
        return r.no(command.tag, r.CANNOT, "Invalid mailbox name")
    if _in_shared_namespace(name):  # the "k" right is not granted: owners create their mailboxes
        return r.no(command.tag, r.NOPERM, "Mailboxes of the shared namespace are created by their owners")
    uses = command.special_use
    unsupported = [use for use in uses if use not in CREATABLE_USES]
    if unsupported:
        return r.no(command.tag, r.USEATTR, f"{unsupported[0]} not supported")
    if len(uses) > 1:  # one special use per mailbox: RFC 6154 3 lets a server refuse the combination
        return r.no(command.tag, r.USEATTR, "Only one special use per mailbox")
    await _create_superiors(session, name)  # RFC 9051 6.3.4
    try:
        created = await session.store.create_mailbox(session.user.id, name, uses[0] if uses else None)
    except AlreadyExists:
        return r.no(command.tag, r.ALREADYEXISTS, "Mailbox already exists")
    except StoreError as exc:
        return r.store_refused(command.tag, exc)
    return r.ok(command.tag, "CREATE completed", r.code_mailboxid(mailbox_id(created)))  # RFC 8474 4.1


async def _create_superiors(session: IMAPSession, name: str) -> None:
    """The superior hierarchical names of ``name`` that do not exist yet (CREATE 6.3.4, RENAME 6.3.6)."""
    assert session.user is not None
    parts = name.split(DELIMITER)
    for depth in range(1, len(parts)):
        parent = DELIMITER.join(parts[:depth])
        if await folder(session, parent) is None:
            with contextlib.suppress(AlreadyExists):  # another session made it meanwhile
                await session.store.create_mailbox(session.user.id, parent)


async def delete(session: IMAPSession, command: MailboxCommand) -> r.TaggedReply:
    from pillarbox.imap.commands.access import require  # it builds on this module

    target = await require(session, command.tag, command.mailbox, "x")  # RFC 4314 4
    if isinstance(target, r.TaggedReply):
        return target
    mailbox = target.mailbox
    if mailbox.name == "INBOX":
        return r.no(command.tag, r.CANNOT, "INBOX cannot be deleted")
    try:
        await session.store.delete_mailbox(mailbox.account_id, mailbox.name)
    except StoreError as exc:
        return r.store_refused(command.tag, exc)
    if session.selected is not None and session.selected.id == mailbox.id:
        # the selected mailbox is gone: back to the authenticated state, and say so (RFC 9051 7.1 CLOSED)
        session.select(None)
        session.send(r.UntaggedReply("OK", "Selected mailbox deleted", r.CLOSED).to_bytes())
    return r.ok(command.tag, "DELETE completed")


async def rename(session: IMAPSession, command: Rename) -> r.TaggedReply:
    assert session.user is not None
    new = command.new_name.rstrip(DELIMITER)
    if not valid_name(new):
        return r.no(command.tag, r.CANNOT, "Invalid mailbox name")
    if _in_shared_namespace(command.mailbox) or _in_shared_namespace(new):
        return r.no(command.tag, r.NOPERM, "Mailboxes of the shared namespace are renamed by their owners")
    if await folder(session, command.mailbox) is not None and await folder(session, new) is None:
        await _create_superiors(session, new)  # RFC 9051 6.3.6: SHOULD, as for CREATE
    try:
        await session.store.rename_mailbox(session.user.id, command.mailbox, new)
    except NotFound:
        return r.no(command.tag, r.NONEXISTENT, "No such mailbox")
    except AlreadyExists:
        return r.no(command.tag, r.ALREADYEXISTS, "Target mailbox already exists")
    except StoreError as exc:
        return r.store_refused(command.tag, exc)
    return r.ok(command.tag, "RENAME completed")


async def subscribe(session: IMAPSession, command: MailboxCommand) -> r.TaggedReply:
    from pillarbox.imap.commands.access import resolve  # it builds on this module

    assert session.user is not None
    shared = _in_shared_namespace(command.mailbox)
    if shared and command.name == "SUBSCRIBE":
        target = await resolve(session, command.mailbox)
        if target is None or "l" not in target.rights:  # RFC 4314 4: "l" to subscribe
            return r.no(command.tag, r.NONEXISTENT, "No such mailbox")
    try:
        await session.store.set_subscribed(session.user.id, command.mailbox, command.name == "SUBSCRIBE",
                                           must_exist=not shared)
    except NotFound:
        if command.name == "SUBSCRIBE":
            return r.no(command.tag, r.NONEXISTENT, "No such mailbox")
    return r.ok(command.tag, f"{command.name} completed")


def _in_shared_namespace(name: str) -> bool:
    """Below the shared namespace's root (a folder named like the root itself may be the user's own)."""
    return name.startswith(SHARED_ROOT + DELIMITER)


def attributes(mailbox: Mailbox, children: set[str], extra: tuple[str, ...] = ()) -> list[str]:
    attributes = ["\\HasChildren" if mailbox.name in children else "\\HasNoChildren"]
    if mailbox.special_use:
        attributes.append(mailbox.special_use)
    return attributes + list(extra)


def mailbox_id(mailbox: Mailbox) -> str:
    """RFC 8474 MAILBOXID: unique and never reused, kept across RENAME. UIDVALIDITY values come from
    one server-wide counter and a mailbox keeps its own when renamed, so they make the id."""
    return f"F{mailbox.uidvalidity}"


async def status_items(
    mailbox: Mailbox, items: tuple[str, ...], session: IMAPSession, asked: bool = True
) -> list[tuple[str, int | str]]:
    """The values of STATUS ``items``; ``asked``: the client's STATUS (or LIST-STATUS), whose
    HIGHESTMODSEQ is CONDSTORE-enabling (RFC 7162 3.1), unlike a NOTIFY event's."""
    if asked and "HIGHESTMODSEQ" in items:
        session.enabled.add("CONDSTORE")
    values: dict[str, int | str] = {
        "MAILBOXID": mailbox_id(mailbox),
        "MESSAGES": mailbox.messages,
        "UIDNEXT": mailbox.uidnext,
        "UIDVALIDITY": mailbox.uidvalidity,
        "UNSEEN": mailbox.unseen,
        "DELETED": mailbox.deleted,
        "SIZE": mailbox.size,
        "RECENT": await _unclaimed(session, mailbox) if "RECENT" in items else 0,
        "HIGHESTMODSEQ": mailbox.highestmodseq,
        "APPENDLIMIT": session.settings.max_literal,
    }
    return [(item, values[item]) for item in items if item in values]


async def _unclaimed(session: IMAPSession, mailbox: Mailbox) -> int:
    """STATUS RECENT (RFC 3501 6.3.10): the messages a session selecting the mailbox now would see
    \\Recent, which STATUS does not take (2.3.2): counted in the mailbox's shared snapshot, which a
    SELECT would read anyway (however many no IMAP4rev1 session has claimed)."""
    try:
        columns = await session.services.snapshots.current(session.store, mailbox.id)
    except NotFound:  # deleted since it was looked up
        return 0
    return len(columns.uids) - bisect.bisect_right(columns.uids, columns.mailbox.recent_uid)


async def status(session: IMAPSession, command: Status) -> r.TaggedReply:
    from pillarbox.imap.commands.access import require  # it builds on this module

    target = await require(session, command.tag, command.mailbox, "r")  # RFC 4314 4
    if isinstance(target, r.TaggedReply):
        return target
    items = await status_items(target.mailbox, command.items, session)
    session.send(r.status_data(target.name, items, session.utf8_names))
    return r.ok(command.tag, "STATUS completed")
