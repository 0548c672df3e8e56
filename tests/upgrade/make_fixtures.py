"""Make one small data_dir per released schema version, with the code of that version (run once; commit
the result). Usage: ``python tests/upgrade/make_fixtures.py`` from the repository, with the venv's python.

A released version is a commit on main's first-parent history whose ``store/sqlite/schema.py`` has a
MIGRATIONS tuple different from the commit before it. For each, the commit is checked out into a
temporary worktree and ``WRITER`` runs with that tree's ``src`` on the path, so the data_dir is exactly
what that version wrote: accounts, folders, messages (one small, stored in the database where the version
does that, one large, in a blob file), flags, an expunged UID and, from the version that has a queue, a
queue entry. Beside the data_dir, ``expected.json`` says what the upgrade test must find. Each is kept as
one ``.tar.gz``: the large message and the early versions' trigram index compress to almost nothing.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
import types
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SCHEMA = "src/pillarbox/store/sqlite/schema.py"

WRITER = r'''
import asyncio, hashlib, json, sqlite3, sys, time
from pathlib import Path
import argon2
from pillarbox.store.records import DeliveryTarget
from pillarbox.store.sqlite.store import SQLiteStore

data_dir, expected_path = Path(sys.argv[1]), Path(sys.argv[2])
PASSWORD = "upgrade fixture password"
SMALL = b"From: a@example.net\r\nTo: bob@example.com\r\nSubject: small\r\nMessage-ID: <small@x>\r\n\r\nhello\r\n"
LARGE = (b"From: a@example.net\r\nTo: bob@example.com\r\nSubject: large\r\nMessage-ID: <large@x>\r\n\r\n"
         + b"y" * 76 + b"\r\n") * 1800
GONE = b"From: a@example.net\r\nSubject: expunged\r\n\r\nbye\r\n"

async def main():
    store = SQLiteStore.open(data_dir)
    try:
        await store.add_domain("example.com")
        hashed = argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
        bob = await store.add_account("bob@example.com", hashed, None)
        inbox = await store.get_mailbox(bob.id, "INBOX")
        archive = await store.create_mailbox(bob.id, "Projects")
        await store.deliver(GONE, [DeliveryTarget(inbox.id)])
        await store.deliver(SMALL, [DeliveryTarget(inbox.id, frozenset({"\\Seen", "$Label1"}))])
        await store.deliver(LARGE, [DeliveryTarget(inbox.id, frozenset({"\\Flagged"})),
                                    DeliveryTarget(archive.id, frozenset({"\\Seen", "\\Answered"}))])
        if hasattr(store, "expunge"):
            await store.expunge(inbox.id, [1])
        mailboxes = {}
        for box in (inbox, archive):
            box = await store.get_mailbox(bob.id, box.name)
            entries = await store.list_messages(box.id)
            mailboxes[box.name] = {"uidvalidity": box.uidvalidity, "messages": [
                {"uid": e.uid, "flags": sorted(e.flags),
                 "sha256": hashlib.sha256(await store.read_message(e.message_id)).hexdigest()} for e in entries]}
    finally:
        await store.close()
    queued = queue_entry(data_dir / "pillarbox.sqlite3")
    expected_path.write_text(json.dumps({"account": "bob@example.com", "password": PASSWORD,
                                         "mailboxes": mailboxes, "queue": queued}, indent=1, sort_keys=True))

def queue_entry(database):
    """A queued copy of the small message to a remote recipient, as that version's queue table holds it."""
    conn = sqlite3.connect(database, isolation_level=None)
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'queue'").fetchone():
            return None
        conn.execute("BEGIN")
        message_id = conn.execute("SELECT id FROM messages WHERE subject = 'small'").fetchone()[0]
        conn.execute("UPDATE messages SET refs = refs + 1 WHERE id = ?", (message_id,))
        queue_id = conn.execute("INSERT INTO queue (message_id, sender, created) VALUES (?, ?, ?)",
                                (message_id, "bob@example.com", int(time.time()))).lastrowid
        conn.execute("INSERT INTO queue_recipients (queue_id, position, address, next_attempt) VALUES (?, 0, ?, ?)",
                     (queue_id, "carol@example.org", int(time.time())))
        conn.execute("COMMIT")
    finally:
        conn.close()
    return {"sender": "bob@example.com", "recipients": ["carol@example.org"]}

asyncio.run(main())
'''


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), *args], check=True, capture_output=True, text=True).stdout


def _migrations(commit: str) -> tuple[str, ...]:
    source = _git("show", f"{commit}:{SCHEMA}")
    module = types.ModuleType("schema_at_commit")
    module.__dict__["__name__"] = "schema_at_commit"
    source = source.replace("from pillarbox.errors import StoreError", "StoreError = RuntimeError")
    exec(compile(source, SCHEMA, "exec"), module.__dict__)
    return tuple(module.MIGRATIONS)


def released_versions() -> list[tuple[str, int]]:
    """(commit, number of migrations) of every commit on main that changed MIGRATIONS, oldest first."""
    commits = _git("log", "--first-parent", "--reverse", "--format=%H", "main", "--", SCHEMA).split()
    versions, previous = [], None
    for commit in commits:
        migrations = _migrations(commit)
        if migrations != previous:
            versions.append((commit, len(migrations)))
        previous = migrations
    return versions


def make(commit: str, count: int) -> Path:
    """The fixture as ``vNN-COMMIT.tar.gz`` (a data_dir and expected.json; compressed, it is small)."""
    target = fixture_path(commit, count)
    FIXTURES.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch) / "tree"
        _git("worktree", "add", "--detach", str(tree), commit)
        try:
            data_dir = Path(scratch) / "data"
            subprocess.run([sys.executable, "-c", WRITER, str(data_dir), str(Path(scratch) / "expected.json")],
                           check=True, env={"PYTHONPATH": str(tree / "src"), "PATH": "/usr/bin:/bin"}, cwd=scratch)
            with tarfile.open(target, "w:gz") as archive:
                archive.add(data_dir / "pillarbox.sqlite3", "data/pillarbox.sqlite3")
                if (data_dir / "blobs").is_dir():
                    archive.add(data_dir / "blobs", "data/blobs")
                archive.add(Path(scratch) / "expected.json", "expected.json")
        finally:
            _git("worktree", "remove", "--force", str(tree))
    return target


def fixture_path(commit: str, count: int) -> Path:
    return FIXTURES / f"v{count:02d}-{commit[:8]}.tar.gz"


if __name__ == "__main__":
    for commit, count in released_versions():
        if not fixture_path(commit, count).exists():  # a fixture, once committed, stays as it is
            print(f"schema with {count} migrations at {commit[:8]}: {make(commit, count).relative_to(REPO)}")
