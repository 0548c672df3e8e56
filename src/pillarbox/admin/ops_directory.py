"""Directory operations (domains, users, aliases, sender grants, folders), each once, returning data.

The CLI (``domains_users.py``, ``senders.py``, ``mailbox_message.py``) prints what these return; the
JSON API and the admin pages (``web/``) show it (ARCHITECTURE habit 15). None of them reads a
terminal or prints: a password arrives as a string, a refusal is an exception with one line
(``InvalidInput`` names the field), and warnings come back in the result as ``warnings``.
"""

from __future__ import annotations

from typing import Any

from pillarbox.address import AddressError, mailbox_address, normalize_address, normalize_domain, split_address
from pillarbox.admin.common import iso, require_account
from pillarbox.admin.postmaster import ROLES, add_domain, assign_roles, roles_for_first_user
from pillarbox.auth.passwords import WeakPassword, check_password, make_credentials_async
from pillarbox.errors import AlreadyExists, InvalidInput, NotFound
from pillarbox.store.api import Store
from pillarbox.store.records import Mailbox

JSON = dict[str, Any]


def address_field(value: str, field: str = "address") -> str:
    """An address to look up (normalised), or the field's refusal."""
    try:
        return normalize_address(value)
    except AddressError as exc:
        raise InvalidInput(field, str(exc)) from None


def new_address_field(value: str, field: str = "address", catch_all: bool = False) -> str:
    """An address about to be created or pointed at: RFC 5321's Mailbox (``address.mailbox_address``),
    or with ``catch_all`` also ``@domain``; else the field's refusal."""
    try:
        if catch_all and value.strip().startswith("@"):
            return "@" + normalize_domain(value.strip()[1:])
        return mailbox_address(value)
    except AddressError as exc:
        raise InvalidInput(field, str(exc)) from None


def domain_field(value: str, field: str = "domain") -> str:
    try:
        return normalize_domain(value)
    except AddressError as exc:
        raise InvalidInput(field, str(exc)) from None


# ---------------------------------------------------------------------------------------------- domains


async def list_domains(store: Store) -> list[JSON]:
    accounts = await store.list_accounts()
    return [{"name": d.name, "users": sum(a.domain == d.name for a in accounts), "created": iso(d.created)}
            for d in await store.list_domains()]


async def create_domain(store: Store, domain: str, postmaster: str | None = None) -> JSON:
    """Serve ``domain``; ``postmaster`` (else the first user added) reads its postmaster@ and abuse@."""
    name = domain_field(domain)
    target = new_address_field(postmaster, "postmaster") if postmaster else None
    created, roles = await add_domain(store, name, target)
    return {"name": created.name, "roles": roles, "postmaster": target,
            "warnings": await dangling(store, target) if target and roles else []}


async def delete_domain(store: Store, domain: str) -> JSON:
    name = domain_field(domain)
    await store.delete_domain(name)
    return {"name": name, "deleted": True}


async def set_domain_postmaster(store: Store, domain: str, address: str) -> JSON:
    name, target = domain_field(domain), new_address_field(address)
    if not await store.has_domain(name):
        raise NotFound(f"no domain {name}")
    roles = await assign_roles(store, name, target, replace=True)
    kept = [a for a in (f"{role}@{name}" for role in ROLES) if a not in roles and a != target]
    return {"domain": name, "postmaster": target, "roles": roles, "kept_users": kept,
            "warnings": await dangling(store, target)}


async def dangling(store: Store, target: str) -> list[str]:
    """A warning when ``target`` is in one of our domains but reaches nobody (yet)."""
    local = await store.has_domain(split_address(target)[1])
    if local and await store.get_account(target) is None and await store.get_alias(target) is None:
        return [f"{target} is not a user or an alias (yet); mail to it will not be delivered"]
    return []


# ---------------------------------------------------------------------------------------------- users


async def list_users(store: Store) -> list[JSON]:
    return [await user_object(store, account) for account in await store.list_accounts()]


async def user_object(store: Store, account: Any) -> JSON:
    used_bytes, used_messages = await store.account_usage(account.id)
    return {"address": account.address, "quota_bytes": account.quota_bytes,
            "quota_messages": account.quota_messages, "used_bytes": used_bytes, "used_messages": used_messages,
            "created": iso(account.created), "admin": account.admin,
            "pop3_delete_after_days": account.pop3_delete_after_days}


async def get_user(store: Store, address: str) -> JSON:
    return await user_object(store, await require_account(store, address_field(address)))


async def hashed_password(password: str, address: str, min_length: int) -> tuple[str, str]:
    """The password held to the policy (``auth/passwords.check_password``), then hashed off the loop."""
    if not password:
        raise InvalidInput("password", "empty password refused")
    try:
        check_password(password, address, min_length)
    except WeakPassword as exc:
        raise InvalidInput("password", str(exc)) from None
    return await make_credentials_async(password)


async def check_new_user(store: Store, address: str) -> str:
    """The normalised address, or the refusal (before a password would be asked for and thrown away)."""
    address = new_address_field(address)
    domain = split_address(address)[1]
    if not await store.has_domain(domain):
        raise NotFound(f"no domain {domain}; add it first with: pillarbox domain add {domain}")
    if await store.get_account(address) is not None:
        raise AlreadyExists(f"user {address} exists already")
    if await store.get_alias(address) is not None:
        raise AlreadyExists(f"{address} is an alias")
    return address


async def create_user(store: Store, address: str, password: str, min_length: int, admin: bool = False) -> JSON:
    address = await check_new_user(store, address)
    password_hash, scram = await hashed_password(password, address, min_length)
    account = await store.add_account(address, password_hash, scram)
    if admin:
        await store.set_admin(address, True)
    roles = await roles_for_first_user(store, account)
    return {"address": address, "admin": admin, "roles": roles}


async def set_user_password(store: Store, address: str, password: str, min_length: int) -> JSON:
    account = await require_account(store, address_field(address))
    password_hash, scram = await hashed_password(password, account.address, min_length)
    await store.set_password(account.address, password_hash, scram)
    return {"address": account.address, "password_changed": True}


async def delete_user(store: Store, address: str) -> JSON:
    account = await require_account(store, address_field(address))
    await store.delete_account(account.address)
    return {"address": account.address, "deleted": True}


UNCHANGED: Any = object()
"""For ``set_user_quota``'s ``quota_messages``: keep the account's message-count quota as it is."""


async def set_user_quota(store: Store, address: str, quota_bytes: int | None,
                         quota_messages: int | None = UNCHANGED) -> JSON:
    account = await require_account(store, address_field(address))
    count = account.quota_messages if quota_messages is UNCHANGED else quota_messages
    for value, field in ((quota_bytes, "quota_bytes"), (count, "quota_messages")):
        if value is not None and value < 1:
            raise InvalidInput(field, f"{field} must be positive, or none")
    await store.set_quota(account.address, quota_bytes, count)
    return {"address": account.address, "quota_bytes": quota_bytes, "quota_messages": count}


async def set_user_pop3_policy(store: Store, address: str, delete_after_days: int | None) -> JSON:
    """None: POP3 keeps downloaded mail; 0: deletes it at download; N: keeps it N days."""
    account = await require_account(store, address_field(address))
    if delete_after_days is not None and delete_after_days < 0:
        raise InvalidInput("delete_after_days", "a number of days (0: delete at download), or none")
    await store.set_pop3_policy(account.address, delete_after_days)  # type: ignore[attr-defined]
    return {"address": account.address, "pop3_delete_after_days": delete_after_days}


async def set_user_admin(store: Store, address: str, admin: bool) -> JSON:
    account = await require_account(store, address_field(address))
    await store.set_admin(account.address, admin)
    return {"address": account.address, "admin": admin}


# ---------------------------------------------------------------------------------------------- aliases


async def list_aliases(store: Store) -> list[JSON]:
    return [{"address": a.address, "targets": list(a.targets)} for a in await store.list_aliases()]


async def create_alias(store: Store, address: str, targets: list[str]) -> JSON:
    if not targets:
        raise InvalidInput("targets", "an alias needs at least one target")
    address = new_address_field(address, catch_all=True)
    checked = [new_address_field(t, "targets") for t in targets]
    alias = await store.add_alias(address, checked)
    warnings = [w for target in alias.targets for w in await dangling(store, target)]
    return {"address": alias.address, "targets": list(alias.targets), "warnings": warnings}


async def delete_alias(store: Store, address: str) -> JSON:
    await store.delete_alias(address)
    local, _, domain = address.lower().rpartition("@")
    warnings = []
    if local in ROLES:
        warnings.append(f"mail to {address} is now refused; RFC 5321 4.5.1 and RFC 2142 want it read"
                        f" (see: pillarbox domain postmaster {domain} ADDRESS)")
    return {"address": address, "deleted": True, "warnings": warnings}


# ---------------------------------------------------------------------------------------------- folders


def mailbox_object(mailbox: Mailbox) -> JSON:
    return {
        "name": mailbox.name, "special_use": mailbox.special_use, "messages": mailbox.messages,
        "unseen": mailbox.unseen, "size": mailbox.size, "uidvalidity": mailbox.uidvalidity,
        "uidnext": mailbox.uidnext, "highestmodseq": mailbox.highestmodseq, "subscribed": mailbox.subscribed,
    }


async def list_mailboxes(store: Store, address: str) -> list[JSON]:
    account = await require_account(store, address_field(address))
    folders = sorted(await store.list_mailboxes(account.id), key=lambda m: (m.name != "INBOX", m.name))
    return [mailbox_object(m) for m in folders]
