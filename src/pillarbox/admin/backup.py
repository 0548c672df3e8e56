"""``pillarbox backup DEST`` and ``pillarbox restore SRC``: a consistent copy of the data_dir while the
server runs, and putting one back onto an empty data_dir (``store/sqlite/backup.py`` says how)."""

from __future__ import annotations

import argparse

from pillarbox.admin.common import EX_OK, CommandFailed
from pillarbox.admin.progress import progress_printer
from pillarbox.config import Config
from pillarbox.store.datadir import ServeLock, give_to_owner, require_store
from pillarbox.store.sqlite.backup import backup, restore


def backup_command(config: Config, args: argparse.Namespace) -> int:
    refuse_unless_sqlite(config)
    require_store(config.data_dir)
    summary = backup(config.data_dir, args.dest, progress_printer("copying message files"))
    print(f"backed up {config.data_dir} to {summary.path}: {summary.messages} message(s),"
          f" {summary.blob_files} message file(s), schema version {summary.schema_version}")
    return EX_OK


def restore_command(config: Config, args: argparse.Namespace) -> int:
    refuse_unless_sqlite(config)
    claim = ServeLock(config.data_dir)  # no server may start on it meanwhile
    try:
        summary = restore(args.source, config.data_dir, progress_printer("copying message files"))
        give_to_owner(config.data_dir)
    finally:
        claim.release()
    print(f"restored {summary.messages} message(s) from {args.source} into {config.data_dir}"
          f" (schema version {summary.schema_version}; a newer Pillarbox upgrades it at start)")
    return EX_OK


def register(commands: argparse._SubParsersAction) -> None:
    """``backup`` and ``restore``: they work on the data_dir's files, not through an open store."""
    made = commands.add_parser("backup", help="copy the data_dir consistently, also while serve runs")
    made.add_argument("dest", metavar="DEST", help="a new (or empty) folder to create the backup in")
    made.set_defaults(func=backup_command, opens_store=False)
    back = commands.add_parser("restore", help="put a backup onto an empty data_dir")
    back.add_argument("source", metavar="SRC", help="a folder made by pillarbox backup")
    back.set_defaults(func=restore_command, opens_store=False)


def refuse_unless_sqlite(config: Config) -> None:
    """Backups copy the embedded store's files; another backend has its own tools."""
    url = getattr(getattr(config, "store", None), "url", "")
    if url:
        raise CommandFailed("backup and restore copy the SQLite data_dir; this configuration keeps mail in"
                            " PostgreSQL: use pg_dump / pg_restore on that database")
