"""``pillarbox antispam``: a user's allow and block lists, and an account's sending limits and hold.

Each operation is one function that the CLI (and the JSON API) call; the ``*_command`` functions
only parse and print. See docs/antispam.md for what the lists and limits do.
"""

from __future__ import annotations

import argparse

from pillarbox.admin.common import EX_OK, listing, require_account
from pillarbox.antispam.lists import ALLOW, BLOCK, normalize_pattern
from pillarbox.errors import PillarboxError
from pillarbox.store.records import SenderRule, SendingPolicy
from pillarbox.store.sqlite.store import SQLiteStore


class BadPattern(PillarboxError):
    pass


async def allow_sender(store: SQLiteStore, user: str, pattern: str) -> str:
    """Mail from ``pattern`` (an address, or a domain and its subdomains) never goes to the user's Junk."""
    return await _set_rule(store, user, pattern, ALLOW)


async def block_sender(store: SQLiteStore, user: str, pattern: str) -> str:
    """Mail from ``pattern`` always goes to the user's Junk."""
    return await _set_rule(store, user, pattern, BLOCK)


async def unlist_sender(store: SQLiteStore, user: str, pattern: str) -> None:
    account = await require_account(store, user)
    await store.delete_sender_rule(account.id, _pattern(pattern))


async def sender_rules(store: SQLiteStore, user: str | None = None) -> list[SenderRule]:
    """Every entry (of one user, or of all), the remembered correspondents included."""
    account = await require_account(store, user) if user is not None else None
    return await store.list_sender_rules(account.id if account is not None else None)


async def set_sending_limits(store: SQLiteStore, user: str, messages: int | None, recipients: int | None) -> None:
    """The account's own hourly limits (None: the configured default; 0: no limit)."""
    account = await require_account(store, user)
    await store.set_sending_limits(account.id, messages, recipients)


async def hold_account(store: SQLiteStore, user: str, reason: str = "held by an administrator") -> None:
    account = await require_account(store, user)
    await store.set_sending_held(account.id, reason)


async def release_account(store: SQLiteStore, user: str) -> None:
    account = await require_account(store, user)
    await store.set_sending_held(account.id, None)


async def sending_policy(store: SQLiteStore, user: str) -> SendingPolicy:
    account = await require_account(store, user)
    return await store.sending_policy(account.id)


async def _set_rule(store: SQLiteStore, user: str, pattern: str, action: str) -> str:
    account = await require_account(store, user)
    normalized = _pattern(pattern)
    await store.add_sender_rule(account.id, normalized, action)
    return normalized


def _pattern(text: str) -> str:
    try:
        return normalize_pattern(text)
    except ValueError as exc:
        raise BadPattern(str(exc)) from None


# ------------------------------------------------------------------------------------------------ CLI


async def allow_command(store: SQLiteStore, args: argparse.Namespace) -> int:
    print(f"{args.address}: mail from {await allow_sender(store, args.address, args.pattern)} is allowed")
    return EX_OK


async def block_command(store: SQLiteStore, args: argparse.Namespace) -> int:
    print(f"{args.address}: mail from {await block_sender(store, args.address, args.pattern)} goes to Junk")
    return EX_OK


async def unlist_command(store: SQLiteStore, args: argparse.Namespace) -> int:
    await unlist_sender(store, args.address, args.pattern)
    print(f"{args.address}: {args.pattern} is neither allowed nor blocked now")
    return EX_OK


async def list_command(store: SQLiteStore, args: argparse.Namespace) -> int:
    rules = await sender_rules(store, args.address)
    objects = [{"user": r.user, "pattern": r.pattern, "action": r.action, "source": r.source} for r in rules]
    return listing(args.json, ("USER", "SENDER", "ACTION", "SOURCE"), objects,
                   lambda o: (o["user"], o["pattern"], o["action"], o["source"]), "no allow or block entries")


async def limits_command(store: SQLiteStore, args: argparse.Namespace) -> int:
    policy = await sending_policy(store, args.address)
    messages = getattr(args, "messages", policy.messages_per_hour)
    recipients = getattr(args, "recipients", policy.recipients_per_hour)
    await set_sending_limits(store, args.address, messages, recipients)
    shown = [f"{value if value is not None else 'default'} {what}" for value, what in
             ((messages, "messages"), (recipients, "recipients"))]
    print(f"{args.address} may send {' and '.join(shown)} per hour")
    return EX_OK


async def hold_command(store: SQLiteStore, args: argparse.Namespace) -> int:
    await hold_account(store, args.address)
    print(f"{args.address} may not send until released")
    return EX_OK


async def release_command(store: SQLiteStore, args: argparse.Namespace) -> int:
    await release_account(store, args.address)
    print(f"{args.address} may send again")
    return EX_OK


def hourly_limit(text: str) -> int | None:
    if text.strip().lower() == "default":
        return None
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a limit: {text!r} (a number, 0 for none, or default)")
    return int(text)


def register(commands: argparse._SubParsersAction) -> None:
    actions = commands.add_parser("antispam", help="allow and block lists, sending limits").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    for name, help, func in (("allow", "never send mail from a sender to the user's Junk", allow_command),
                             ("block", "always send mail from a sender to the user's Junk", block_command),
                             ("unlist", "remove a sender from the user's allow or block list", unlist_command)):
        parser = actions.add_parser(name, help=help)
        parser.add_argument("address", metavar="ADDRESS", help="the user")
        parser.add_argument("pattern", metavar="PATTERN", help="an address, or a domain (its subdomains too)")
        parser.set_defaults(func=func)
    listed = actions.add_parser("list", help="the allow and block entries (of one user, or of all)")
    listed.add_argument("address", metavar="ADDRESS", nargs="?")
    listed.add_argument("--json", action="store_true", help="print a JSON array")
    listed.set_defaults(func=list_command)
    limits = actions.add_parser("limits", help="an account's own hourly sending limits")
    limits.add_argument("address", metavar="ADDRESS")
    for option in ("messages", "recipients"):
        limits.add_argument(f"--{option}", metavar="N", type=hourly_limit, default=argparse.SUPPRESS,
                            help=f"{option} per hour (0: no limit, default: the configuration's)")
    limits.set_defaults(func=limits_command)
    for name, help, func in (("hold", "refuse all mail the account submits", hold_command),
                             ("release", "let a held account send again", release_command)):
        parser = actions.add_parser(name, help=help)
        parser.add_argument("address", metavar="ADDRESS")
        parser.set_defaults(func=func)
