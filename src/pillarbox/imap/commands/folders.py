"""Mailbox commands (RFC 9051 6.3): SELECT/EXAMINE, CREATE, DELETE, RENAME, (UN)SUBSCRIBE, LIST,
LSUB, STATUS; with SPECIAL-USE (RFC 6154), LIST-EXTENDED (5258), LIST-STATUS (5819), STATUS=SIZE.

Names: hierarchy delimiter "/", INBOX case-insensitive, names already decoded from modified UTF-7
by the parser. LIST patterns: "*" matches anything, "%" anything but the delimiter (6.3.9).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from pillarbox.errors import AlreadyExists, NotFound, StoreError
from pillarbox.imap import response as r
from pillarbox.imap.list_pattern import ListPattern
from pillarbox.imap.parser.commands import Create, ListCommand, MailboxCommand, Rename, Status
from pillarbox.store.records import Mailbox

if TYPE_CHECKING:
    from pillarbox.imap.session import IMAPSession

DELIMITER = "/"
SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
MAX_NAME = 512
_SPECIAL_USE = {"\\ARCHIVE", "\\DRAFTS", "\\JUNK", "\\SENT", "\\TRASH", "\\ALL", "\\FLAGGED"}


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
    uses = [u for u in command.special_use]
    if any(u.upper() not in _SPECIAL_USE for u in uses) or len(uses) > 1:
        return r.no(command.tag, r.USEATTR, "Unsupported special-use attribute")
    await _create_superiors(session, name)  # RFC 9051 6.3.4
    try:
        created = await session.store.create_mailbox(session.user.id, name, uses[0] if uses else None)
    except AlreadyExists:
        return r.no(command.tag, r.ALREADYEXISTS, "Mailbox already exists")
    except StoreError as exc:
        return r.no(command.tag, r.CANNOT, str(exc))
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
    assert session.user is not None
    mailbox = await folder(session, command.mailbox)
    if mailbox is None:
        return r.no(command.tag, r.NONEXISTENT, "No such mailbox")
    if mailbox.name == "INBOX":
        return r.no(command.tag, r.CANNOT, "INBOX cannot be deleted")
    try:
        await session.store.delete_mailbox(session.user.id, mailbox.name)
    except StoreError as exc:
        return r.no(command.tag, r.CANNOT, str(exc))
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
    if await folder(session, command.mailbox) is not None and await folder(session, new) is None:
        await _create_superiors(session, new)  # RFC 9051 6.3.6: SHOULD, as for CREATE
    try:
        await session.store.rename_mailbox(session.user.id, command.mailbox, new)
    except NotFound:
        return r.no(command.tag, r.NONEXISTENT, "No such mailbox")
    except AlreadyExists:
        return r.no(command.tag, r.ALREADYEXISTS, "Target mailbox already exists")
    except StoreError as exc:
        return r.no(command.tag, r.CANNOT, str(exc))
    return r.ok(command.tag, "RENAME completed")


async def subscribe(session: IMAPSession, command: MailboxCommand) -> r.TaggedReply:
    assert session.user is not None
    try:
        await session.store.set_subscribed(session.user.id, command.mailbox, command.name == "SUBSCRIBE")
    except NotFound:
        if command.name == "SUBSCRIBE":
            return r.no(command.tag, r.NONEXISTENT, "No such mailbox")
    return r.ok(command.tag, f"{command.name} completed")


def list_pattern(reference: str, pattern: str) -> ListPattern:
    full = pattern if pattern.startswith(DELIMITER) or not reference else reference + pattern
    if full[:5].upper() == "INBOX" and full[5:6] in ("", DELIMITER, "*", "%"):
        full = "INBOX" + full[5:]  # stored names spell INBOX canonically
    return ListPattern(full, DELIMITER)  # not a regex: ".*a.*a.*b" backtracks exponentially


def attributes(mailbox: Mailbox, children: set[str], extra: tuple[str, ...] = ()) -> list[str]:
    attributes = ["\\HasChildren" if mailbox.name in children else "\\HasNoChildren"]
    if mailbox.special_use:
        attributes.append(mailbox.special_use)
    return attributes + list(extra)


async def list_mailboxes(session: IMAPSession, command: ListCommand) -> r.TaggedReply:
    assert session.user is not None
    if command.patterns == ("",) and not command.extended:
        session.send(r.list_data("", ["\\Noselect"], command=command.name))  # RFC 9051 6.3.9: the delimiter
        return r.ok(command.tag, f"{command.name} completed")
    mailboxes = await session.store.list_mailboxes(session.user.id)
    # every level above a mailbox has children, also above a level that is no mailbox itself
    parents = {m.name[:i] for m in mailboxes for i, c in enumerate(m.name) if c == DELIMITER}
    patterns = [list_pattern(command.reference, pattern) for pattern in command.patterns]
    subscribed_only = command.name == "LSUB" or "SUBSCRIBED" in command.selection
    special_only = "SPECIAL-USE" in command.selection

    def selected(mailbox: Mailbox) -> bool:
        return not ((subscribed_only and not mailbox.subscribed) or (special_only and not mailbox.special_use))

    def listed(name: str) -> bool:
        return any(pattern.matches(name) for pattern in patterns)

    # RFC 9051 6.3.9.1: a subscription outlives its mailbox and is then listed as \NonExistent
    gone = await session.store.subscribed_without_mailbox(session.user.id) if subscribed_only else []
    recursive = "RECURSIVEMATCH" in command.selection
    criteria = tuple(o for o in command.selection if o not in ("RECURSIVEMATCH", "REMOTE"))
    meeting = [m.name for m in mailboxes if selected(m)] + ([] if special_only else gone)
    for mailbox in mailboxes:
        if not listed(mailbox.name):
            continue
        childinfo: tuple[str, ...] = ()
        if recursive:
            # RFC 9051 6.3.9.1/6.3.9.6: a parent is returned, with CHILDINFO, when a descendant meets the
            # criteria; a parent that does not meet them itself only when such a child is not listed too
            below = [name for name in meeting if name.startswith(mailbox.name + DELIMITER)]
            if below and (selected(mailbox) or any(not listed(name) for name in below)):
                childinfo = criteria
        if not selected(mailbox) and not childinfo:
            continue
        extra = ("\\Subscribed",) if mailbox.subscribed and (subscribed_only or "SUBSCRIBED" in command.returns) else ()
        names = attributes(mailbox, parents, extra)
        session.send(r.list_data(mailbox.name, names, utf8=session.utf8_names, childinfo=childinfo,
                                 command=command.name))
        if command.status_items:
            session.send(
                r.status_data(mailbox.name, status_items(mailbox, command.status_items, session), session.utf8_names)
            )
    flags = ["\\Noselect"] if command.name == "LSUB" else ["\\Subscribed", "\\NonExistent"]
    for name in gone if not special_only else ():
        if listed(name):
            session.send(r.list_data(name, flags, utf8=session.utf8_names, command=command.name))
    if not (subscribed_only or special_only):
        _list_gaps(session, command, [m.name for m in mailboxes], listed)
    return r.ok(command.tag, f"{command.name} completed")


def _list_gaps(session: IMAPSession, command: ListCommand, names: list[str], listed: Callable[[str], bool]) -> None:
    """Hierarchy levels that are no mailbox (a parent deleted before its children): a pattern like "%"
    that stops at such a level must still show it, or the client never finds the children below
    (RFC 9051 6.3.9, example 10: ``\\NonExistent \\HasChildren``; \\Noselect before IMAP4rev2).
    A level is shown only when some mailbox below it is not listed by this command itself."""
    existing = set(names)
    gaps: dict[str, list[str]] = {}
    for name in names:
        parts = name.split(DELIMITER)
        for depth in range(1, len(parts)):
            level = DELIMITER.join(parts[:depth])
            if level not in existing:
                gaps.setdefault(level, []).append(name)
    flags = ["\\NonExistent", "\\HasChildren"] if command.extended or session.rev2 else ["\\Noselect", "\\HasChildren"]
    for level in sorted(gaps):
        if listed(level) and any(not listed(below) for below in gaps[level]):
            session.send(r.list_data(level, flags, utf8=session.utf8_names, command=command.name))


def mailbox_id(mailbox: Mailbox) -> str:
    """RFC 8474 MAILBOXID: unique and never reused, kept across RENAME. UIDVALIDITY values come from
    one server-wide counter and a mailbox keeps its own when renamed, so they make the id."""
    return f"F{mailbox.uidvalidity}"


def status_items(mailbox: Mailbox, items: tuple[str, ...], session: IMAPSession) -> list[tuple[str, int | str]]:
    if "HIGHESTMODSEQ" in items:
        session.enabled.add("CONDSTORE")  # RFC 7162 3.1: a CONDSTORE-enabling command
    values: dict[str, int | str] = {
        "MAILBOXID": mailbox_id(mailbox),
        "MESSAGES": mailbox.messages,
        "UIDNEXT": mailbox.uidnext,
        "UIDVALIDITY": mailbox.uidvalidity,
        "UNSEEN": mailbox.unseen,
        "DELETED": mailbox.deleted,
        "SIZE": mailbox.size,
        "RECENT": 0,
        "HIGHESTMODSEQ": mailbox.highestmodseq,
        "APPENDLIMIT": session.settings.max_literal,
    }
    return [(item, values[item]) for item in items if item in values]


async def status(session: IMAPSession, command: Status) -> r.TaggedReply:
    mailbox = await folder(session, command.mailbox)
    if mailbox is None:
        return r.no(command.tag, r.NONEXISTENT, "No such mailbox")
    session.send(r.status_data(mailbox.name, status_items(mailbox, command.items, session), session.utf8_names))
    return r.ok(command.tag, "STATUS completed")
