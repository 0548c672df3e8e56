"""ACL commands (RFC 4314 3): who may do what on a mailbox, and sharing it with the users of a domain.

An identifier is "anyone" (here: any user of the owner's domain) or the address of an account of the
owner's domain; a mailbox's owner has every right, always (LISTRIGHTS says so, SETACL cannot change
it). Negative rights ("-identifier") are not supported. Changing or reading an ACL takes "a" (4).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pillarbox.imap import response as r
from pillarbox.imap.commands.access import Target, require
from pillarbox.imap.parser.commands import AclCommand
from pillarbox.imap.rights import RIGHTS, VIRTUAL, RightsError, modify, shown
from pillarbox.store.records import Account

if TYPE_CHECKING:
    from pillarbox.imap.session import IMAPSession

ANYONE = "anyone"
NEEDED = {"SETACL": "a", "DELETEACL": "a", "GETACL": "a", "LISTRIGHTS": "a", "MYRIGHTS": ""}


def owner_of(session: IMAPSession, target: Target) -> str:
    assert session.user is not None
    return target.owner or session.user.address


async def acl_command(session: IMAPSession, command: AclCommand) -> r.TaggedReply:
    target = await require(session, command.tag, command.mailbox, NEEDED[command.name])
    if isinstance(target, r.TaggedReply):
        return target
    if command.name == "MYRIGHTS":
        if not set("lrikxa") & set(target.rights):  # 4: any of these
            return r.no(command.tag, r.NONEXISTENT, "No such mailbox")
        session.send(r.myrights_data(target.name, shown(target.rights), session.utf8_names))
    elif command.name == "GETACL":
        acl = await session.store.get_acl(target.mailbox.id)
        entries = [(owner_of(session, target), shown(RIGHTS))] + [(who, shown(rights)) for who, rights in acl.items()]
        session.send(r.acl_data(target.name, entries, session.utf8_names))
    elif command.name == "LISTRIGHTS":
        assert command.identifier is not None
        _listrights(session, target, command.identifier)
    else:
        return await _change(session, command, target)
    return r.ok(command.tag, f"{command.name} completed")


def _listrights(session: IMAPSession, target: Target, identifier: str) -> None:
    """3.4: the owner always has every right; anyone else may be given each one by itself."""
    if identifier.lower() == owner_of(session, target).lower():
        required, optional = RIGHTS, []
    else:
        required, optional = "", [*RIGHTS, *VIRTUAL]
    session.send(r.listrights_data(target.name, identifier, shown(required) if required else "", optional,
                                   session.utf8_names))


async def _change(session: IMAPSession, command: AclCommand, target: Target) -> r.TaggedReply:
    """SETACL and DELETEACL."""
    identifier = (command.identifier or "").lower()
    if identifier.startswith("-"):
        return r.no(command.tag, r.CANNOT, "Negative rights are not supported")
    if identifier == owner_of(session, target).lower():
        return r.no(command.tag, r.CANNOT, "The owner has every right, always")
    if identifier != ANYONE and not await _same_domain_user(session, identifier, owner_of(session, target)):
        return r.no(command.tag, r.CANNOT, "Mailboxes are shared with users of their own domain only")
    current = (await session.store.get_acl(target.mailbox.id)).get(identifier, "")
    try:
        rights = modify(current, command.rights) if command.name == "SETACL" and command.rights is not None else ""
    except RightsError as exc:
        return r.bad(command.tag, str(exc))  # 3.1: an unrecognized right is BAD
    await session.store.set_acl(target.mailbox.id, identifier, rights or None)
    return r.ok(command.tag, f"{command.name} completed")


async def _same_domain_user(session: IMAPSession, address: str, owner: str) -> bool:
    account: Account | None = await session.store.get_account(address)
    return account is not None and account.domain == owner.rpartition("@")[2].lower()
