"""``pillarbox store check``: is the data_dir whole and private?

One line per problem, then a summary; exit status 0 when there is none, 1 otherwise. Checked: the
store's consistency (``store/sqlite/integrity.py``: SQLite's own check, every message's bytes present
and intact, counters, the search index) and the mode of every file and folder under the data_dir
(``store/files.py``: 0600 files, 0700 folders; the server repairs an older install at start).
"""

from __future__ import annotations

import argparse

from pillarbox.store.files import open_paths
from pillarbox.store.sqlite.store import SQLiteStore


async def store_check(store: SQLiteStore, _args: argparse.Namespace) -> int:
    problems = await store.find_problems()
    problems += [f"{path}: mode {mode:04o} lets others in, should be {wanted:04o}"
                 for path, mode, wanted in open_paths(store.data_dir)]
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problem(s) found in {store.data_dir}" if problems else f"{store.data_dir}: no problems")
    return 1 if problems else 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``store`` subcommand to the CLI's parser."""
    actions = commands.add_parser("store", help="the data_dir itself").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    actions.add_parser("check", help="check the store's consistency and file modes").set_defaults(func=store_check)
