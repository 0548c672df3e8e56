"""Who reads postmaster@ and abuse@ of each domain: a named person, visible in ``alias list``.

RFC 5321 4.5.1: every domain MUST accept mail to postmaster; RFC 2142 adds abuse@ for complaints.
Rather than a rule hidden in the resolver ("the first user of the domain"), both are ordinary
aliases: ``domain add --postmaster ADDRESS`` (or the configuration's ``postmaster``) creates them,
else the first user added to the domain gets them, and ``domain postmaster`` points them elsewhere.
A schema migration wrote the old hidden rule down as such aliases for installs that relied on it.
A real account named postmaster@ or abuse@ is left alone: its mailbox already is the answer.
"""

from __future__ import annotations

from pillarbox.address import mailbox_address
from pillarbox.mailauth import dkim_sign
from pillarbox.store.api import Backend
from pillarbox.store.records import Account, Domain

ROLES = ("postmaster", "abuse")


async def assign_roles(store: Backend, domain: str, target: str, *, replace: bool) -> list[str]:
    """Point postmaster@ and abuse@ of ``domain`` at ``target``; the role addresses that now do.
    Without ``replace`` an existing alias stays as it is. ``target`` must be normalised."""
    assigned = []
    for role in ROLES:
        address = f"{role}@{domain}"
        if address == target or await store.get_account(address) is not None:
            continue  # an alias to itself would be a loop; an account's mailbox is the answer already
        if not replace and await store.get_alias(address) is not None:
            continue
        await store.add_alias(address, [target], replace=replace)
        assigned.append(address)
    return assigned


async def add_domain(store: Backend, name: str, postmaster: str | None) -> tuple[Domain, list[str]]:
    """Serve ``name`` (with DKIM keys, for ``pillarbox dns``); with a ``postmaster``, its role aliases."""
    target = mailbox_address(postmaster) if postmaster else None  # refuse a bad address before anything
    domain = await store.add_domain(name)
    await dkim_sign.ensure_keys(store, domain.name)  # Ed25519 + RSA-2048 pair
    roles = await assign_roles(store, domain.name, target, replace=False) if target else []
    return domain, roles


async def roles_for_first_user(store: Backend, account: Account) -> list[str]:
    """The first user added to a domain reads its postmaster@ and abuse@, unless someone does already."""
    if any(a.domain == account.domain and a.id != account.id for a in await store.list_accounts()):
        return []
    return await assign_roles(store, account.domain, account.address, replace=False)
