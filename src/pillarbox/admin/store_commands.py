"""``pillarbox store check [--repair]``: is the store whole, and what is lying around unused.

One line per problem, then a summary; exit status 0 when there is nothing to report, 1 otherwise.
Checked: the store's consistency (``store/sqlite/integrity.py``: SQLite's own check, every message's
bytes present and intact, counters, the search index) and blob files that no row names
(``store/sqlite/orphans.py``); ``--repair`` removes those files (nothing else is changed).
"""

from __future__ import annotations

import argparse

from pillarbox.admin.common import EX_FAIL, EX_OK
from pillarbox.store.sqlite.store import SQLiteStore


async def store_check(store: SQLiteStore, args: argparse.Namespace) -> int:
    problems = await store.find_problems()
    for problem in problems:
        print(problem)
    unused = await store.orphan_blobs()
    if unused and args.repair:
        removed = await store.remove_orphan_blobs()
        print(f"removed {removed} message file(s) that no message uses")
    elif unused:
        for path in unused:
            print(f"{path}: no message uses this file (pillarbox store check --repair removes it)")
        problems += [str(path) for path in unused]
    print(f"{len(problems)} problem(s) found in {store.data_dir}" if problems else f"{store.data_dir}: no problems")
    return EX_FAIL if problems else EX_OK


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``store`` subcommand to the CLI's parser."""
    actions = commands.add_parser("store", help="the data_dir itself").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="check the store's consistency; --repair removes unused files")
    check.add_argument("--repair", action="store_true", help="remove message files that no message uses")
    check.set_defaults(func=store_check)
