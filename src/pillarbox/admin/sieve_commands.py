"""``pillarbox sieve``, ``forward`` and ``vacation``: thin adapters over delivery/scripts.py.

ADDRESS ``@global`` names the admin's global scripts: ``before`` runs before every account's own
script and ``after`` after it (docs/sieve.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pillarbox.admin import ops_account
from pillarbox.admin.common import EX_OK, print_table, require_account
from pillarbox.delivery import scripts as ops
from pillarbox.delivery.filtering import SieveSettings, settings_from_config

GLOBAL = "@global"


async def _owner(store: Any, address: str) -> int | None:
    return None if address == GLOBAL else (await require_account(store, address)).id


def _settings(args: argparse.Namespace) -> SieveSettings:
    config = getattr(args, "settings", None)
    return settings_from_config(config.sieve) if config is not None else SieveSettings()


async def sieve_list(store: Any, args: argparse.Namespace) -> int:
    scripts = await ops.list_scripts(store, await _owner(store, args.address))
    print_table(["NAME", "ACTIVE", "SIZE"], [[s.name, "yes" if s.active else "", len(s.content.encode())]
                                             for s in scripts], "no scripts")
    return EX_OK


async def sieve_get(store: Any, args: argparse.Namespace) -> int:
    sys.stdout.write((await ops.get_script(store, await _owner(store, args.address), args.name)).content)
    return EX_OK


async def sieve_put(store: Any, args: argparse.Namespace) -> int:
    content = sys.stdin.buffer.read().decode("utf-8")
    await ops.put_script(store, await _owner(store, args.address), args.name, content, _settings(args))
    return EX_OK


async def sieve_activate(store: Any, args: argparse.Namespace) -> int:
    owner = await _owner(store, args.address)
    if owner is None:
        raise ops.ScriptError("global scripts run by name (before, after): there is nothing to activate")
    await ops.activate(store, owner, args.name)
    return EX_OK


async def sieve_deactivate(store: Any, args: argparse.Namespace) -> int:
    await ops.activate(store, (await require_account(store, args.address)).id, None)
    return EX_OK


async def sieve_delete(store: Any, args: argparse.Namespace) -> int:
    await ops.delete(store, await _owner(store, args.address), args.name)
    return EX_OK


async def sieve_check(store: Any, args: argparse.Namespace) -> int:
    ops.check_script(Path(args.file).read_text(encoding="utf-8"), _settings(args))
    print(f"{args.file}: OK")
    return EX_OK


async def forward_set(store: Any, args: argparse.Namespace) -> int:
    await ops_account.set_forward(store, args.address, args.target, args.keep)
    return EX_OK


async def vacation_set(store: Any, args: argparse.Namespace) -> int:
    await ops_account.set_vacation(store, args.address, True, args.subject or "", args.message, args.days)
    return EX_OK


async def generated_clear(store: Any, args: argparse.Namespace) -> int:
    """``forward clear`` / ``vacation clear`` (``args.command`` says which): the same operations as the pages."""
    if args.command == "forward":
        await ops_account.set_forward(store, args.address, None)
    else:
        await ops_account.set_vacation(store, args.address, False)
    return EX_OK


def register(commands: argparse._SubParsersAction) -> None:
    sieve = commands.add_parser("sieve", help="an account's Sieve filters (ADDRESS @global: the admin's)")
    actions = sieve.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, func, help, with_name in (
        ("list", sieve_list, "list the scripts", False), ("get", sieve_get, "print a script", True),
        ("put", sieve_put, "store a script read from stdin (checked first)", True),
        ("activate", sieve_activate, "make a script the active one", True),
        ("deactivate", sieve_deactivate, "run no script of the account's own", False),
        ("delete", sieve_delete, "delete a script (not the active one)", True),
    ):
        parser = actions.add_parser(name, help=help)
        parser.add_argument("address", metavar="ADDRESS")
        if with_name:
            parser.add_argument("name", metavar="NAME")
        parser.set_defaults(func=func)
    check = actions.add_parser("check", help="check a script file without storing it")
    check.add_argument("file", metavar="FILE")
    check.set_defaults(func=sieve_check)
    _forward(commands)
    _vacation(commands)


def _generated(commands: argparse._SubParsersAction, kind: str, help: str, set_help: str) -> argparse.ArgumentParser:
    """``forward``/``vacation`` with ``set ADDRESS ...`` (returned, for its own arguments) and ``clear ADDRESS``."""
    actions = commands.add_parser(kind, help=help).add_subparsers(dest="action", metavar="ACTION", required=True)
    set_ = actions.add_parser("set", help=set_help)
    set_.add_argument("address", metavar="ADDRESS")
    set_.set_defaults(func=forward_set if kind == "forward" else vacation_set)
    clear = actions.add_parser("clear", help=f"stop the {kind}")
    clear.add_argument("address", metavar="ADDRESS")
    clear.set_defaults(func=generated_clear)
    return set_


def _forward(commands: argparse._SubParsersAction) -> None:
    set_ = _generated(commands, "forward", "forward an account's mail (stored as generated Sieve)", "forward to TARGET")
    set_.add_argument("target", metavar="TARGET")
    set_.add_argument("--keep", action="store_true", help="keep a copy here too")


def _vacation(commands: argparse._SubParsersAction) -> None:
    set_ = _generated(commands, "vacation", "an automatic reply while away (generated Sieve)",
                      "reply with MESSAGE, once per sender per --days")
    set_.add_argument("message", metavar="MESSAGE")
    set_.add_argument("--subject", help="subject of the reply (default: Away)")
    set_.add_argument("--days", type=int, default=7, help="days between two replies to one sender (default 7)")
