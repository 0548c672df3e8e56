"""``pillarbox token create|list|revoke``: API tokens for scripts (the CLI face of ``ops_account``)."""

from __future__ import annotations

import argparse

from pillarbox.admin.common import EX_OK, listing
from pillarbox.admin.ops_account import create_token, list_tokens, revoke_token
from pillarbox.store.api import WebStore


async def token_create(store: WebStore, args: argparse.Namespace) -> int:
    result = await create_token(store, args.address, args.name)
    print(result["token"])
    print(f"(token {result['id']} acts as {result['address']}; it is shown only now:"
          " send it as 'Authorization: Bearer TOKEN')")
    return EX_OK


async def token_list(store: WebStore, args: argparse.Namespace) -> int:
    return listing(args.json, ("ID", "ACCOUNT", "NAME", "CREATED", "LAST USED"), await list_tokens(store),
                   lambda o: (o["id"], o["address"] + (" (admin)" if o["admin"] else ""), o["name"],
                              (o["created"] or "")[:16], (o["last_used"] or "never")[:16]), "no API tokens")


async def token_revoke(store: WebStore, args: argparse.Namespace) -> int:
    await revoke_token(store, args.id)
    print(f"revoked API token {args.id}")
    return EX_OK


def register(commands: argparse._SubParsersAction) -> None:
    actions = commands.add_parser("token", help="API tokens for scripts").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="a new token acting as an account (printed once)")
    create.add_argument("address", metavar="ADDRESS")
    create.add_argument("--name", default="script", help="what it is for (default: script)")
    create.set_defaults(func=token_create)
    listing_parser = actions.add_parser("list", help="every token (never the token itself)")
    listing_parser.add_argument("--json", action="store_true", help="print a JSON array")
    listing_parser.set_defaults(func=token_list)
    revoke = actions.add_parser("revoke", help="revoke a token")
    revoke.add_argument("id", metavar="ID", type=int)
    revoke.set_defaults(func=token_revoke)
