"""``pillarbox domain``, ``user`` and ``alias``: the CLI face of the directory operations.

Each command reads its arguments (and a password from the terminal or stdin), calls the one
operation in ``ops_directory`` that the JSON API and the admin pages call too, and prints the result.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from pillarbox.admin import ops_directory as ops
from pillarbox.admin.common import EX_OK, CommandFailed, human_size, listing, warn
from pillarbox.store.api import Store

# ---------------------------------------------------------------------------------------------- domain


def _warn_all(result: dict) -> None:
    for line in result.get("warnings", ()):
        warn(line)


async def domain_add(store: Store, args: argparse.Namespace) -> int:
    result = await ops.create_domain(store, args.domain, args.postmaster or args.settings.postmaster or None)
    print(f"added domain {result['name']} (publish its records: pillarbox dns {result['name']})")
    _warn_all(result)
    if result["roles"]:
        print(f"{' and '.join(result['roles'])} reach {result['postmaster']}")
    else:
        name = result["name"]
        print(f"postmaster@{name} and abuse@{name} will reach the first user added to {name}"
              f" (to choose someone: pillarbox domain postmaster {name} ADDRESS)")
    return EX_OK


async def domain_postmaster(store: Store, args: argparse.Namespace) -> int:
    result = await ops.set_domain_postmaster(store, args.domain, args.address)
    _warn_all(result)
    for address in result["kept_users"]:
        print(f"{address} is a user: its own mailbox stays")
    if result["roles"]:
        print(f"{' and '.join(result['roles'])} now reach {result['postmaster']}")
    return EX_OK


async def domain_list(store: Store, args: argparse.Namespace) -> int:
    return listing(args.json, ("DOMAIN", "USERS", "CREATED"), await ops.list_domains(store),
                   lambda o: (o["name"], o["users"], o["created"]), "no domains")


async def domain_delete(store: Store, args: argparse.Namespace) -> int:
    await ops.delete_domain(store, args.domain)
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


async def user_add(store: Store, args: argparse.Namespace) -> int:
    address = await ops.check_new_user(store, args.address)  # refuse before asking for a password
    password = read_password(args.password_stdin)
    result = await ops.create_user(store, address, password, args.settings.accounts.password_min_length,
                                   admin=args.admin)
    print(f"added user {address}{' (an admin)' if args.admin else ''}")
    if result["roles"]:
        domain = address.rpartition("@")[2]
        print(f"{' and '.join(result['roles'])} reach {address}, the first user of {domain}"
              f" (to choose someone else: pillarbox domain postmaster {domain} ADDRESS)")
    return EX_OK


async def user_list(store: Store, args: argparse.Namespace) -> int:
    return listing(
        args.json, ("ADDRESS", "QUOTA", "USED", "MESSAGES", "ADMIN"), await ops.list_users(store),
        lambda o: (o["address"], human_size(o["quota_bytes"]), human_size(o["used_bytes"]), o["used_messages"],
                   "yes" if o["admin"] else ""),
        "no users",
    )


async def user_passwd(store: Store, args: argparse.Namespace) -> int:
    account = await ops.get_user(store, args.address)
    password = read_password(args.password_stdin)
    await ops.set_user_password(store, account["address"], password, args.settings.accounts.password_min_length)
    print(f"changed the password of {account['address']}")
    return EX_OK


async def user_delete(store: Store, args: argparse.Namespace) -> int:
    result = await ops.delete_user(store, args.address)
    print(f"deleted user {result['address']} and all of its mail")
    return EX_OK


async def user_quota(store: Store, args: argparse.Namespace) -> int:
    # the message-count quota changes only when --messages is given
    result = await ops.set_user_quota(store, args.address, args.size, getattr(args, "messages", ops.UNCHANGED))
    size, messages = result["quota_bytes"], result["quota_messages"]
    shown = "no storage quota" if size is None else f"a storage quota of {human_size(size)}"
    if messages is not None:
        shown += f" and at most {messages} messages"
    print(f"{result['address']} now has {shown}")
    return EX_OK


async def user_admin(store: Store, args: argparse.Namespace) -> int:
    result = await ops.set_user_admin(store, args.address, args.state == "on")
    print(f"{result['address']} {'is now an admin' if result['admin'] else 'is no longer an admin'}")
    return EX_OK


async def user_pop3_policy(store: Store, args: argparse.Namespace) -> int:
    result = await ops.set_user_pop3_policy(store, args.address, args.policy)
    shown = {None: "keeps downloaded mail", 0: "deletes mail once POP3 downloaded it"}.get(
        args.policy, f"keeps downloaded mail {args.policy} days")
    print(f"{result['address']} now {shown}")
    return EX_OK


# ---------------------------------------------------------------------------------------------- alias


async def alias_add(store: Store, args: argparse.Namespace) -> int:
    result = await ops.create_alias(store, args.alias, args.targets)
    _warn_all(result)
    print(f"added alias {result['address']} -> {', '.join(result['targets'])}")
    return EX_OK


async def alias_list(store: Store, args: argparse.Namespace) -> int:
    return listing(args.json, ("ALIAS", "TARGETS"), await ops.list_aliases(store),
                   lambda o: (o["address"], ", ".join(o["targets"])), "no aliases")


async def alias_delete(store: Store, args: argparse.Namespace) -> int:
    result = await ops.delete_alias(store, args.alias)
    _warn_all(result)
    print(f"deleted alias {args.alias}")
    return EX_OK
