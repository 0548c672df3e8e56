"""``pillarbox store check [--repair]`` and ``pillarbox store migrate``: the store as a whole, on either backend.

``check``: one line per problem, then a summary; exit status 0 when there is none, 1 otherwise. Checked:
the store's consistency (``find_problems``: every message's bytes present and intact, counters,
references, the search index; on SQLite also its own integrity check) and, where the store lives in the
data_dir, the mode of every file and folder there (``store/files.py``: 0600 files, 0700 folders; the
server repairs an older install at start) and blob files no message uses (``store/sqlite/orphans.py``: a
crash between writing one and the commit), which ``--repair`` removes (it changes nothing else). On
PostgreSQL bodies live in rows: there are no such files."""

from __future__ import annotations

import argparse
from pathlib import Path

from pillarbox.admin.common import EX_FAIL, EX_OK, CommandFailed
from pillarbox.admin.progress import progress_printer
from pillarbox.config import check_store_url
from pillarbox.store.api import Backend
from pillarbox.store.files import open_paths
from pillarbox.store.sqlite.store import SQLiteStore


async def store_check(store: Backend, args: argparse.Namespace) -> int:
    problems = await store.find_problems()
    data_dir = getattr(store, "data_dir", None)
    if isinstance(data_dir, Path):
        problems += [f"{path}: mode {mode:04o} lets others in, should be {wanted:04o}"
                     for path, mode, wanted in open_paths(data_dir)]
    if isinstance(store, SQLiteStore):
        problems += await _unused_blob_files(store, args.repair)
    where = str(data_dir) if isinstance(data_dir, Path) else "the PostgreSQL store"
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problem(s) found in {where}" if problems else f"{where}: no problems")
    return EX_FAIL if problems else EX_OK


async def _unused_blob_files(store: SQLiteStore, repair: bool) -> list[str]:
    if repair and await store.orphan_blobs():
        print(f"removed {await store.remove_orphan_blobs()} message file(s) that no message uses")
    return [f"{path}: no message uses this file (pillarbox store check --repair removes it)"
            for path in await store.orphan_blobs()]


async def store_migrate(store: Backend, args: argparse.Namespace) -> int:
    """Copy the configured SQLite store into an empty PostgreSQL database (stop the server first); the
    rows copied count up on a terminal (stderr), a script sees only the result."""
    data_dir = getattr(store, "data_dir", None)
    if not isinstance(data_dir, Path):
        raise CommandFailed("this install's store is PostgreSQL already; migrate moves a SQLite data_dir")
    from pillarbox.store.postgres.store import PostgresStore  # the driver loads only for this command

    target = await PostgresStore.open(args.to)
    try:
        copied = await target.copy_in_sqlite(data_dir, progress_printer("copying rows"))
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
    check = actions.add_parser("check", help="check the store's consistency, file modes and unused files "
                               "(exit 1 on a problem)")
    check.add_argument("--repair", action="store_true", help="remove message files that no message uses (SQLite)")
    check.set_defaults(func=store_check)
    migrate = actions.add_parser("migrate", help="copy this SQLite store into an empty PostgreSQL database")
    migrate.add_argument("--to", required=True, metavar="URL", type=_postgres_url,
                         help="postgresql://user:password@host:port/database")
    migrate.set_defaults(func=store_migrate)


def _postgres_url(text: str) -> str:
    try:
        return check_store_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
