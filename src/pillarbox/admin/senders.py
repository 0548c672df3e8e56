"""``pillarbox user grant / revoke / grants``: addresses a user may send as besides their own.

A user may always use their own address and the aliases that reach them (``Directory.may_use``);
a grant adds one more address, or a whole ``@domain``: a secretary who sends as her boss, a support
agent who sends as support@ without receiving its mail. Grants count for MAIL FROM and for the
From:/Sender: fields of submitted mail (``policy/senders.py``). Each operation is one function that
the CLI (and the web admin) call; the ``*_command`` functions only print.
"""

from __future__ import annotations

import argparse

from pillarbox.admin.common import EX_OK, listing, require_account
from pillarbox.admin.ops_directory import new_address_field
from pillarbox.store.api import Backend
from pillarbox.store.records import SenderGrant


async def grant_sender(store: Backend, user: str, address: str) -> SenderGrant:
    account = await require_account(store, user)
    return await store.add_sender_grant(account.address, new_address_field(address, "sender", catch_all=True))


async def revoke_sender(store: Backend, user: str, address: str) -> None:
    account = await require_account(store, user)
    await store.delete_sender_grant(account.address, address)


async def grant_command(store: Backend, args: argparse.Namespace) -> int:
    grant = await grant_sender(store, args.address, args.sender)
    print(f"{grant.user} may now send as {grant.address}")
    return EX_OK


async def revoke_command(store: Backend, args: argparse.Namespace) -> int:
    await revoke_sender(store, args.address, args.sender)
    print(f"{args.address} may no longer send as {args.sender}")
    return EX_OK


async def grants_command(store: Backend, args: argparse.Namespace) -> int:
    objects = [{"user": g.user, "address": g.address} for g in await store.list_sender_grants()]
    return listing(args.json, ("USER", "MAY SEND AS"), objects, lambda o: (o["user"], o["address"]),
                   "no sender grants")


def register(actions: argparse._SubParsersAction) -> None:
    """Add ``grant``, ``revoke`` and ``grants`` to the ``user`` command."""
    for name, help, func in (("grant", "let a user send as another address (or @domain)", grant_command),
                             ("revoke", "take a grant back", revoke_command)):
        parser = actions.add_parser(name, help=help)
        parser.add_argument("address", metavar="USER")
        parser.add_argument("sender", metavar="ADDRESS", help="an address, or @domain for all of it")
        parser.set_defaults(func=func)
    grants = actions.add_parser("grants", help="list the sender grants")
    grants.add_argument("--json", action="store_true", help="print a JSON array")
    grants.set_defaults(func=grants_command)
