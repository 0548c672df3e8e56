"""``pillarbox store check [--repair]``: is the data_dir whole and private, and what lies there unused?

One line per problem, then a summary; exit status 0 when there is none, 1 otherwise. Checked: the
store's consistency (``store/sqlite/integrity.py``: SQLite's own check, every message's bytes present
and intact, counters, the search index), the mode of every file and folder under the data_dir
(``store/files.py``: 0600 files, 0700 folders; the server repairs an older install at start), and blob
files no message uses (``store/sqlite/orphans.py``: a crash between writing one and the commit), which
``--repair`` removes (it changes nothing else).
"""

from __future__ import annotations

import argparse

from pillarbox.store.files import open_paths
from pillarbox.store.sqlite.store import SQLiteStore


async def store_check(store: SQLiteStore, args: argparse.Namespace) -> int:
    problems = await store.find_problems()
    problems += [f"{path}: mode {mode:04o} lets others in, should be {wanted:04o}"
                 for path, mode, wanted in open_paths(store.data_dir)]
    if args.repair and await store.orphan_blobs():
        print(f"removed {await store.remove_orphan_blobs()} message file(s) that no message uses")
    problems += [f"{path}: no message uses this file (pillarbox store check --repair removes it)"
                 for path in await store.orphan_blobs()]
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problem(s) found in {store.data_dir}" if problems else f"{store.data_dir}: no problems")
    return 1 if problems else 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``store`` subcommand to the CLI's parser."""
    actions = commands.add_parser("store", help="the data_dir itself").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="check the store's consistency, file modes and unused files")
    check.add_argument("--repair", action="store_true", help="remove message files that no message uses")
    check.set_defaults(func=store_check)
