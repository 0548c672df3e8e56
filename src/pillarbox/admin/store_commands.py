"""``pillarbox store check`` and ``pillarbox store migrate``: the store as a whole, on either backend."""

from __future__ import annotations

import argparse
from pathlib import Path

from pillarbox.admin.common import EX_FAIL, EX_OK, CommandFailed
from pillarbox.config import check_store_url
from pillarbox.store.api import Backend


async def store_check(store: Backend, args: argparse.Namespace) -> int:
    """Every consistency check of the store (bodies intact, counters, references, search index)."""
    problems = await store.find_problems()
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) found")
        return EX_FAIL
    print("the store is consistent")
    return EX_OK


async def store_migrate(store: Backend, args: argparse.Namespace) -> int:
    """Copy the configured SQLite store into an empty PostgreSQL database (stop the server first)."""
    data_dir = getattr(store, "data_dir", None)
    if not isinstance(data_dir, Path):
        raise CommandFailed("this install's store is PostgreSQL already; migrate moves a SQLite data_dir")
    from pillarbox.store.postgres.store import PostgresStore  # the driver loads only for this command

    target = await PostgresStore.open(args.to)
    try:
        copied = await target.copy_in_sqlite(data_dir)
        problems = await target.find_problems()
    finally:
        await target.close()
    print(", ".join(f"{table} {count}" for table, count in copied.items() if count) or "nothing to copy")
    if problems:
        raise CommandFailed("the copy is inconsistent: " + "; ".join(problems))
    print(f'done: set [store] url = "{args.to}" in the configuration and start the server')
    return EX_OK


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``store`` subcommands to the CLI's parser."""
    actions = commands.add_parser("store", help="the store as a whole").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    actions.add_parser("check", help="check the store's consistency (exit 1 on a problem)").set_defaults(
        func=store_check)
    migrate = actions.add_parser("migrate", help="copy this SQLite store into an empty PostgreSQL database")
    migrate.add_argument("--to", required=True, metavar="URL", type=_postgres_url,
                         help="postgresql://user:password@host:port/database")
    migrate.set_defaults(func=store_migrate)


def _postgres_url(text: str) -> str:
    try:
        return check_store_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
