"""``pillarbox antispam``: a user's allow and block lists, and an account's sending limits and hold.

Each operation is one function that the CLI (and the JSON API) call; the ``*_command`` functions
only parse and print. See docs/antispam.md for what the lists and limits do.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from dataclasses import asdict

from pillarbox.admin.common import EX_OK, listing, require_account
from pillarbox.antispam.lists import ALLOW, BLOCK, normalize_pattern
from pillarbox.errors import InvalidInput
from pillarbox.store.api import Backend

Command = Callable[[Backend, argparse.Namespace], Awaitable[int]]


async def allow_sender(store: Backend, address: str, pattern: str) -> dict[str, str]:
    """Mail from ``pattern`` (an address, or a domain and its subdomains) never goes to the user's Junk."""
    return await _set_rule(store, address, pattern, ALLOW)


async def block_sender(store: Backend, address: str, pattern: str) -> dict[str, str]:
    """Mail from ``pattern`` always goes to the user's Junk."""
    return await _set_rule(store, address, pattern, BLOCK)


async def unlist_sender(store: Backend, address: str, pattern: str) -> dict[str, str]:
    account = await require_account(store, address)
    normalized = _pattern(pattern)
    await store.delete_sender_rule(account.id, normalized)
    return {"user": account.address, "pattern": normalized, "action": "none"}


async def sender_rules(store: Backend, address: str | None = None) -> list[dict[str, str]]:
    """Every entry (of one user, or of all), the remembered correspondents included."""
    account = await require_account(store, address) if address is not None else None
    rules = await store.list_sender_rules(account.id if account is not None else None)
    return [{"user": r.user, "pattern": r.pattern, "action": r.action, "source": r.source} for r in rules]


async def set_sending_limits(store: Backend, address: str, messages: int | None,
                             recipients: int | None) -> dict[str, object]:
    """The account's own hourly limits (None: the configured default; 0: no limit)."""
    account = await require_account(store, address)
    for field, value in (("messages", messages), ("recipients", recipients)):
        if value is not None and value < 0:
            raise InvalidInput(field, f"not a limit: {value} (0 or more, or null for the default)")
    await store.set_sending_limits(account.id, messages, recipients)
    return await sending_policy(store, address)


async def hold_account(store: Backend, address: str, reason: str = "held by an administrator") -> dict[str, object]:
    account = await require_account(store, address)
    await store.set_sending_held(account.id, reason)
    return await sending_policy(store, address)


async def release_account(store: Backend, address: str) -> dict[str, object]:
    account = await require_account(store, address)
    await store.set_sending_held(account.id, None)
    return await sending_policy(store, address)


async def sending_policy(store: Backend, address: str) -> dict[str, object]:
    """The account's own limits (None: the configured default) and its hold, if any."""
    account = await require_account(store, address)
    return {"address": account.address, **asdict(await store.sending_policy(account.id))}


async def _set_rule(store: Backend, address: str, pattern: str, action: str) -> dict[str, str]:
    account = await require_account(store, address)
    normalized = _pattern(pattern)
    await store.add_sender_rule(account.id, normalized, action)
    return {"user": account.address, "pattern": normalized, "action": action}


def _pattern(text: str) -> str:
    try:
        return normalize_pattern(text)
    except ValueError as exc:
        raise InvalidInput("pattern", str(exc)) from None


# ------------------------------------------------------------------------------------------------ CLI


def _rule_command(operation: Callable[[Backend, str, str], Awaitable[dict[str, str]]], says: str) -> Command:
    async def command(store: Backend, args: argparse.Namespace) -> int:
        print(says.format(**await operation(store, args.address, args.pattern)))
        return EX_OK

    return command


def _account_command(operation: Callable[[Backend, str], Awaitable[object]], says: str) -> Command:
    async def command(store: Backend, args: argparse.Namespace) -> int:
        await operation(store, args.address)
        print(says.format(address=args.address))
        return EX_OK

    return command


async def list_command(store: Backend, args: argparse.Namespace) -> int:
    objects = await sender_rules(store, args.address)
    return listing(args.json, ("USER", "SENDER", "ACTION", "SOURCE"), objects,
                   lambda o: (o["user"], o["pattern"], o["action"], o["source"]), "no allow or block entries")


async def limits_command(store: Backend, args: argparse.Namespace) -> int:
    policy = await sending_policy(store, args.address)
    messages = getattr(args, "messages", policy["messages_per_hour"])
    recipients = getattr(args, "recipients", policy["recipients_per_hour"])
    await set_sending_limits(store, args.address, messages, recipients)
    shown = [f"{value if value is not None else 'default'} {what}" for value, what in
             ((messages, "messages"), (recipients, "recipients"))]
    print(f"{args.address} may send {' and '.join(shown)} per hour")
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
    for name, help, func in (
            ("allow", "never send mail from a sender to the user's Junk",
             _rule_command(allow_sender, "{user}: mail from {pattern} is allowed")),
            ("block", "always send mail from a sender to the user's Junk",
             _rule_command(block_sender, "{user}: mail from {pattern} goes to Junk")),
            ("unlist", "remove a sender from the user's allow or block list",
             _rule_command(unlist_sender, "{user}: {pattern} is neither allowed nor blocked now"))):
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
    for name, help, func in (
            ("hold", "refuse all mail the account submits",
             _account_command(hold_account, "{address} may not send until released")),
            ("release", "let a held account send again",
             _account_command(release_account, "{address} may send again"))):
        parser = actions.add_parser(name, help=help)
        parser.add_argument("address", metavar="ADDRESS")
        parser.set_defaults(func=func)
