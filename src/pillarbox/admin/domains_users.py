"""``pillarbox domain``, ``user`` and ``alias``: the directory half of administration."""

from __future__ import annotations

import argparse
import getpass
import sys

from pillarbox.address import normalize_address, normalize_domain, split_address
from pillarbox.admin.common import EX_OK, EX_USAGE, CommandFailed, human_size, iso, listing, require_account, warn
from pillarbox.admin.postmaster import ROLES, add_domain, assign_roles, roles_for_first_user
from pillarbox.auth.passwords import WeakPassword, check_password, make_credentials_async
from pillarbox.errors import AlreadyExists, NotFound
from pillarbox.store.api import Backend

# ---------------------------------------------------------------------------------------------- domain


async def domain_add(store: Backend, args: argparse.Namespace) -> int:
    postmaster = args.postmaster or args.settings.postmaster
    domain, roles = await add_domain(store, args.domain, postmaster)
    print(f"added domain {domain.name} (publish its records: pillarbox dns {domain.name})")
    if roles:
        await _warn_if_dangling(store, postmaster)
        print(f"{' and '.join(roles)} reach {normalize_address(postmaster)}")
    else:
        print(f"postmaster@{domain.name} and abuse@{domain.name} will reach the first user added to {domain.name}"
              f" (to choose someone: pillarbox domain postmaster {domain.name} ADDRESS)")
    return EX_OK


async def domain_postmaster(store: Backend, args: argparse.Namespace) -> int:
    domain, target = normalize_domain(args.domain), normalize_address(args.address)
    if not await store.has_domain(domain):
        raise NotFound(f"no domain {domain}")
    roles = await assign_roles(store, domain, target, replace=True)
    await _warn_if_dangling(store, target)
    for address in (f"{role}@{domain}" for role in ROLES):
        if address not in roles and address != target:
            print(f"{address} is a user: its own mailbox stays")
    if roles:
        print(f"{' and '.join(roles)} now reach {target}")
    return EX_OK


async def domain_list(store: Backend, args: argparse.Namespace) -> int:
    domains = await store.list_domains()
    accounts = await store.list_accounts()
    objects = [
        {"name": d.name, "users": sum(a.domain == d.name for a in accounts), "created": iso(d.created)}
        for d in domains
    ]
    return listing(args.json, ("DOMAIN", "USERS", "CREATED"), objects,
                   lambda o: (o["name"], o["users"], o["created"]), "no domains")


async def domain_delete(store: Backend, args: argparse.Namespace) -> int:
    await store.delete_domain(args.domain)
    print(f"deleted domain {args.domain}")
    return EX_OK


# ---------------------------------------------------------------------------------------------- user


def read_password(from_stdin: bool) -> str:
    """One line of stdin (``--password-stdin``), or asked twice on the terminal."""
    if from_stdin:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    elif not sys.stdin.isatty():
        raise CommandFailed("stdin is not a terminal; give the password with --password-stdin")
    else:
        password = getpass.getpass("Password: ")
        if password and getpass.getpass("Password (again): ") != password:
            raise CommandFailed("the two passwords differ; nothing changed")
    if not password:
        raise CommandFailed("empty password refused")
    return password


async def user_add(store: Backend, args: argparse.Namespace) -> int:
    address = normalize_address(args.address)
    domain = split_address(address)[1]
    # refuse before asking for a password that would be thrown away
    if not await store.has_domain(domain):
        raise NotFound(f"no domain {domain}; add it first with: pillarbox domain add {domain}")
    if await store.get_account(address) is not None:
        raise AlreadyExists(f"user {address} exists already")
    if await store.get_alias(address) is not None:
        raise AlreadyExists(f"{address} is an alias")
    password_hash, scram = await _new_credentials(args, address)
    account = await store.add_account(address, password_hash, scram)
    print(f"added user {address}")
    roles = await roles_for_first_user(store, account)
    if roles:
        print(f"{' and '.join(roles)} reach {address}, the first user of {domain}"
              f" (to choose someone else: pillarbox domain postmaster {domain} ADDRESS)")
    return EX_OK


async def _new_credentials(args: argparse.Namespace, address: str) -> tuple[str, str]:
    """The password read as ``read_password`` does, held to the password policy, then hashed."""
    password = read_password(args.password_stdin)
    try:
        check_password(password, address, args.settings.accounts.password_min_length)
    except WeakPassword as exc:
        raise CommandFailed(str(exc), EX_USAGE) from None
    return await make_credentials_async(password)


async def user_list(store: Backend, args: argparse.Namespace) -> int:
    objects = []
    for account in await store.list_accounts():
        used_bytes, used_messages = await store.account_usage(account.id)
        objects.append({
            "address": account.address, "quota_bytes": account.quota_bytes,
            "quota_messages": account.quota_messages, "used_bytes": used_bytes,
            "used_messages": used_messages, "created": iso(account.created),
        })
    return listing(
        args.json, ("ADDRESS", "QUOTA", "USED", "MESSAGES"), objects,
        lambda o: (o["address"], human_size(o["quota_bytes"]), human_size(o["used_bytes"]), o["used_messages"]),
        "no users",
    )


async def user_passwd(store: Backend, args: argparse.Namespace) -> int:
    account = await require_account(store, args.address)
    password_hash, scram = await _new_credentials(args, account.address)
    await store.set_password(account.address, password_hash, scram)
    print(f"changed the password of {account.address}")
    return EX_OK


async def user_delete(store: Backend, args: argparse.Namespace) -> int:
    account = await require_account(store, args.address)
    await store.delete_account(account.address)
    print(f"deleted user {account.address} and all of its mail")
    return EX_OK


async def user_quota(store: Backend, args: argparse.Namespace) -> int:
    account = await require_account(store, args.address)
    # the message-count quota changes only when --messages is given
    messages = args.messages if hasattr(args, "messages") else account.quota_messages
    await store.set_quota(account.address, args.size, messages)
    shown = "no storage quota" if args.size is None else f"a storage quota of {human_size(args.size)}"
    if messages is not None:
        shown += f" and at most {messages} messages"
    print(f"{account.address} now has {shown}")
    return EX_OK


async def user_pop3_policy(store: Backend, args: argparse.Namespace) -> int:
    account = await require_account(store, args.address)
    await store.set_pop3_policy(account.address, args.policy)
    shown = {None: "keeps downloaded mail", 0: "deletes mail once POP3 downloaded it"}.get(
        args.policy, f"keeps downloaded mail {args.policy} days")
    print(f"{account.address} now {shown}")
    return EX_OK


# ---------------------------------------------------------------------------------------------- alias


async def alias_add(store: Backend, args: argparse.Namespace) -> int:
    alias = await store.add_alias(args.alias, args.targets)
    for target in alias.targets:
        await _warn_if_dangling(store, target)
    print(f"added alias {alias.address} -> {', '.join(alias.targets)}")
    return EX_OK


async def _warn_if_dangling(store: Backend, target: str) -> None:
    local = await store.has_domain(split_address(target)[1])
    if local and await store.get_account(target) is None and await store.get_alias(target) is None:
        warn(f"{target} is not a user or an alias (yet); mail to it will not be delivered")


async def alias_list(store: Backend, args: argparse.Namespace) -> int:
    objects = [{"address": a.address, "targets": list(a.targets)} for a in await store.list_aliases()]
    return listing(args.json, ("ALIAS", "TARGETS"), objects,
                   lambda o: (o["address"], ", ".join(o["targets"])), "no aliases")


async def alias_delete(store: Backend, args: argparse.Namespace) -> int:
    await store.delete_alias(args.alias)
    local, _, domain = args.alias.lower().rpartition("@")
    if local in ROLES:
        warn(f"mail to {args.alias} is now refused; RFC 5321 4.5.1 and RFC 2142 want it read"
             f" (see: pillarbox domain postmaster {domain} ADDRESS)")
    print(f"deleted alias {args.alias}")
    return EX_OK
