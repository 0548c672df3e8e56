"""Shared mailboxes: what a name means to a user, and what the user may do there (RFC 4314).

A user's own mailboxes are in the personal namespace with every right. Mailboxes of other accounts of
the same domain that grant the user (or "anyone") a right appear in the shared namespace (RFC 2342)
as ``Shared/<owner's address>/<their name>``. A command checks the rights it needs (4) on what a name
resolves to; a mailbox the user may not even see (no "l") is answered as no mailbox at all, so that
its existence is not disclosed (RFC 4314 6); one it sees but may not use this way is NO [NOPERM].
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pillarbox.imap import response as r
from pillarbox.imap.commands.folders import DELIMITER, SHARED_ROOT, folder
from pillarbox.imap.rights import RIGHTS, canonical
from pillarbox.store.records import Mailbox

if TYPE_CHECKING:
    from pillarbox.imap.session import IMAPSession

SHARED_PREFIX = SHARED_ROOT + DELIMITER


@dataclass(frozen=True)
class Target:
    """What a mailbox name resolves to for this user."""

    mailbox: Mailbox
    name: str
    """As the user names it."""
    rights: str
    owner: str | None = None
    """The owner's address when it is another account's."""


def is_shared(name: str) -> bool:
    return name == SHARED_ROOT or name.startswith(SHARED_PREFIX)


def shared_name(owner: str, name: str) -> str:
    return f"{SHARED_PREFIX}{owner}{DELIMITER}{name}"


async def resolve(session: IMAPSession, name: str) -> Target | None:
    """The mailbox ``name`` names for this user: its own (first: a folder named "Shared" from before the
    shared namespace stays the user's), or one shared with it; None if neither."""
    mailbox = await folder(session, name)
    if mailbox is not None:
        return Target(mailbox, mailbox.name, RIGHTS)
    if not is_shared(name):
        return None
    return next((t for t in await shared_targets(session) if t.name == name), None)


async def shared_targets(session: IMAPSession) -> list[Target]:
    """Every mailbox shared with this user, under its shared name."""
    assert session.user is not None
    shared = await session.store.shared_with(session.user.address)
    return [Target(s.mailbox, shared_name(s.owner, s.mailbox.name), canonical(s.rights), s.owner) for s in shared]


async def listed_shared(session: IMAPSession, subscribed: set[str]) -> dict[str, tuple[Mailbox, str]]:
    """The shared mailboxes LIST shows (those with "l"): records under their shared names, without the
    owner's special use (it is the owner's \\Sent, not the user's), and the user's rights."""
    return {t.name: (dataclasses.replace(t.mailbox, name=t.name, special_use=None, subscribed=t.name in subscribed),
                     t.rights) for t in await shared_targets(session) if "l" in t.rights}


async def require(session: IMAPSession, tag: str, name: str, needed: str) -> Target | r.TaggedReply:
    """The mailbox ``name`` names, if the user has every right of ``needed`` on it; else the NO."""
    target = await resolve(session, name)
    refused = refusal(tag, target, needed)
    if refused is not None or target is None:
        return refused or r.no(tag, r.NONEXISTENT, "No such mailbox")
    return target


def refusal(tag: str, target: Target | None, needed: str) -> r.TaggedReply | None:
    """None when ``target`` exists and grants every right of ``needed``; else the NO to answer."""
    granted = target is not None and all(right in target.rights for right in needed)
    if granted:
        return None
    if target is None or "l" not in target.rights:
        return r.no(tag, r.NONEXISTENT, "No such mailbox")
    return r.no(tag, r.NOPERM, "Permission denied")
