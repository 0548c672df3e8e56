"""Sharing a folder with users of its domain (RFC 4314 ACL, the rights IMAP SETACL gives): one operation
for the CLI (``pillarbox mailbox share``) and the web face alike, returning the folder's ACL."""

from __future__ import annotations

from typing import Any

from pillarbox.admin.common import require_account, require_mailbox
from pillarbox.admin.ops_directory import address_field
from pillarbox.errors import InvalidInput
from pillarbox.imap.commands.access import shared_name
from pillarbox.imap.rights import RIGHTS, RightsError, modify, shown
from pillarbox.store.api import Store

ANYONE = "anyone"


async def share_mailbox(store: Store, owner: str, folder: str, grantee: str, rights: str) -> dict[str, Any]:
    """Give ``grantee`` (an address of the owner's domain, or "anyone" of it) ``rights`` on the owner's
    ``folder``: "lr" replaces, "+w" adds, "-w" removes, "" or "none" takes them all away."""
    account = await require_account(store, address_field(owner, "owner"))
    mailbox = await require_mailbox(store, account, folder)
    who = ANYONE if grantee.lower() == ANYONE else address_field(grantee, "grantee")
    if who == account.address:
        raise InvalidInput("grantee", "the owner has every right, always")
    if who != ANYONE:
        other = await store.get_account(who)
        if other is None or other.domain != account.domain:
            raise InvalidInput("grantee", f"{who} is no user of {account.domain}: folders are shared within a domain")
    current = (await store.get_acl(mailbox.id)).get(who, "")
    try:
        new = "" if rights.lower() == "none" else modify(current, rights)
    except RightsError as exc:
        raise InvalidInput("rights", f"{exc} (rights are letters of {RIGHTS}, c and d)") from None
    await store.set_acl(mailbox.id, who, new or None)
    acl = await store.get_acl(mailbox.id)
    return {
        "owner": account.address, "folder": mailbox.name, "acl": {k: shown(v) for k, v in acl.items()},
        "seen_by_grantee_as": shared_name(account.address, mailbox.name),
    }
