"""\\Recent on a SQLite store upgraded from before it existed (what every backend must do about \\Recent
and message ids is in ``tests/store_contract/test_recent_and_ids.py``)."""

from __future__ import annotations

from pathlib import Path

from pillarbox.store.sqlite.schema import MIGRATIONS, migrate
from tests.sqlite_files import sqlite_file


def test_mail_stored_before_the_upgrade_is_not_recent(tmp_path: Path):
    path = tmp_path / "pillarbox.sqlite3"
    before_recent = next(n for n, script in enumerate(MIGRATIONS) if "recent_uid" in script)
    with sqlite_file(path, isolation_level=None) as conn:
        for number, script in enumerate(MIGRATIONS[:before_recent]):
            conn.executescript(script)
            conn.execute(f"PRAGMA user_version = {number + 1}")
        conn.execute("INSERT INTO domains (name, created) VALUES ('example.com', 0)")
        conn.execute("INSERT INTO accounts (address, domain_id, password_hash, created)"
                     " VALUES ('b@example.com', 1, '', 0)")
        conn.execute("INSERT INTO mailboxes (account_id, name, uidvalidity, uidnext, highestmodseq)"
                     " VALUES (1, 'INBOX', 1, 8, 1)")
        migrate(conn)
        assert conn.execute("SELECT recent_uid FROM mailboxes").fetchone() == (7,)
