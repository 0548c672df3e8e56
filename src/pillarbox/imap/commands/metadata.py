"""GETMETADATA and SETMETADATA (RFC 5464 METADATA and METADATA-SERVER).

Annotations of a mailbox (its name) or of the server ("") live in the store: /shared ones seen by
whoever may see the mailbox, /private ones by their owner only. Some entries are computed and
read-only: the server's /shared/admin (a mailto: URI of postmaster at the host name, 3.2.1.1) and a
mailbox's /private/specialuse (RFC 6154 4: its special use, or NIL). Server /shared entries are the
administrator's: SETMETADATA on them is NO (3.3 allows restricting it).

SETMETADATA is all or nothing (4.3): values over ``metadata_max_size`` are refused with [METADATA
MAXSIZE n] before anything is stored, and an owner past ``metadata_max_entries`` on one mailbox with
[METADATA TOOMANY], the store rolling the whole command back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pillarbox.errors import LimitReached, StoreError
from pillarbox.imap import response as r
from pillarbox.imap.commands.access import resolve
from pillarbox.imap.parser.commands import GetMetadata, SetMetadata
from pillarbox.store.records import Mailbox

if TYPE_CHECKING:
    from pillarbox.imap.session import IMAPSession

READ_ONLY = frozenset({"/shared/admin", "/private/specialuse"})


class _NoMailbox(Exception):
    pass


async def _target(session: IMAPSession, name: str) -> Mailbox | None:
    """The mailbox a METADATA command names; None for the server ("")."""
    if name == "":
        return None
    target = await resolve(session, name)  # RFC 5464 3.3: "l" and one of "rswip" on a shared one
    if target is None or "l" not in target.rights or not set("rswip") & set(target.rights):
        raise _NoMailbox
    return target.mailbox


async def entries_of(session: IMAPSession, mailbox: Mailbox | None) -> dict[str, bytes]:
    """Every entry the user sees on ``mailbox`` (None: the server), computed ones included."""
    assert session.user is not None
    stored = await session.store.list_metadata(session.user.id, mailbox.id if mailbox is not None else None)
    if mailbox is None:
        stored["/shared/admin"] = f"mailto:postmaster@{session.settings.hostname}".encode()
    elif mailbox.special_use:
        stored["/private/specialuse"] = mailbox.special_use.encode()
    return stored


def select_entries(found: dict[str, bytes], wanted: tuple[str, ...], depth: str) -> list[tuple[str, bytes | None]]:
    """The requested entries (NIL for one that has no value) and, with DEPTH, those below them (4.2.2)."""
    chosen: dict[str, bytes | None] = {}
    for name in wanted:
        if name.count("/") > 1:  # a bare /private or /shared is no entry of its own
            chosen[name] = found.get(name)
        if depth == "0":
            continue
        prefix = name + "/"
        for other in sorted(found):
            if other.startswith(prefix) and (depth == "INFINITY" or "/" not in other[len(prefix):]):
                chosen[other] = found[other]
    return list(chosen.items())


async def getmetadata(session: IMAPSession, command: GetMetadata) -> r.TaggedReply:
    try:
        mailbox = await _target(session, command.mailbox)
    except _NoMailbox:
        return r.no(command.tag, r.NONEXISTENT, "No such mailbox")
    chosen, longest = await values_for(session, mailbox, command.entries, command.depth, command.maxsize)
    if chosen:
        session.send(r.metadata_data(command.mailbox, chosen, session.utf8_names))
    return r.ok(command.tag, "GETMETADATA completed", longentries(longest))


async def values_for(
    session: IMAPSession, mailbox: Mailbox | None, wanted: tuple[str, ...], depth: str, maxsize: int | None
) -> tuple[list[tuple[str, bytes | None]], int]:
    """The entries to answer and the size of the largest one MAXSIZE left out (4.2.1), 0 if none."""
    chosen = select_entries(await entries_of(session, mailbox), wanted, depth)
    if maxsize is None:
        return chosen, 0
    longest = max((len(value) for _, value in chosen if value is not None and len(value) > maxsize), default=0)
    return [(n, v) for n, v in chosen if v is None or len(v) <= maxsize], longest


def longentries(longest: int) -> str | None:
    """``[METADATA LONGENTRIES n]`` for the tagged OK when MAXSIZE left a value out."""
    return f"METADATA LONGENTRIES {longest}" if longest else None


async def setmetadata(session: IMAPSession, command: SetMetadata) -> r.TaggedReply:
    assert session.user is not None
    try:
        mailbox = await _target(session, command.mailbox)
    except _NoMailbox:
        return r.no(command.tag, r.NONEXISTENT, "No such mailbox")
    for name, value in command.values:
        if name in READ_ONLY or (mailbox is None and name.startswith("/shared/")):
            return r.no(command.tag, r.NOPERM, f"{name} is set by the server")
        if value is not None and len(value) > session.settings.metadata_max_size:
            return r.no(command.tag, f"METADATA MAXSIZE {session.settings.metadata_max_size}", "Value too large")
    try:
        await session.store.set_metadata(session.user.id, mailbox.id if mailbox is not None else None,
                                         command.values, session.settings.metadata_max_entries)
    except LimitReached:
        return r.no(command.tag, "METADATA TOOMANY", "Too many annotations")
    except StoreError as exc:
        return r.store_refused(command.tag, exc)
    return r.ok(command.tag, "SETMETADATA completed")
