"""Every released schema version upgrades to this one with its accounts, messages, UIDs, UIDVALIDITY,
flags and queue intact (fixtures from ``make_fixtures.py``), and a store newer than this Pillarbox is
refused with one clear line, by the server and by admin commands."""

from __future__ import annotations

import asyncio
import hashlib
import json
import tarfile
from pathlib import Path

import pytest

from pillarbox.auth.passwords import verify_password
from pillarbox.store.sqlite.schema import MIGRATIONS
from pillarbox.store.sqlite.store import SQLiteStore
from tests.server_process import init_store, pillarbox
from tests.sqlite_files import sqlite_file

FIXTURES = sorted((Path(__file__).parent / "fixtures").glob("v*.tar.gz"))


def unpack(fixture: Path, into: Path) -> tuple[Path, dict]:
    with tarfile.open(fixture) as archive:
        archive.extractall(into, filter="data")
    return into / "data", json.loads((into / "expected.json").read_text())


def test_every_released_version_has_a_fixture() -> None:
    """A version released since the fixtures were made fails here: run tests/upgrade/make_fixtures.py.
    The version of this very code needs none (it is what every fixture upgrades to)."""
    from tests.upgrade.make_fixtures import _migrations, released_versions

    try:
        versions = released_versions()
    except Exception as exc:  # a shallow clone without main's history
        pytest.skip(f"no git history of main here: {exc}")
    made = {path.name.split(".")[0] for path in FIXTURES}
    wanted = {f"v{count:02d}-{commit[:8]}" for commit, count in versions if _migrations(commit) != MIGRATIONS}
    assert wanted <= made, "run tests/upgrade/make_fixtures.py and commit the new fixtures"


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.name.split(".")[0] for f in FIXTURES])
def test_upgrade_keeps_everything(fixture: Path, tmp_path: Path) -> None:
    data_dir, expected = unpack(fixture, tmp_path)

    async def check() -> None:
        store = SQLiteStore.open(data_dir)
        try:
            account = await store.get_account(expected["account"])
            credentials = await store.get_credentials(expected["account"])
            assert verify_password(credentials.password_hash, expected["password"])
            for name, box in expected["mailboxes"].items():
                mailbox = await store.get_mailbox(account.id, name)
                assert mailbox.uidvalidity == box["uidvalidity"]
                entries = await store.list_messages(mailbox.id)
                found = [{"uid": e.uid, "flags": sorted(e.flags),
                          "sha256": hashlib.sha256(await store.read_message(e.message_id)).hexdigest()}
                         for e in entries]
                assert found == box["messages"]
            queued = [(q.sender, [r.address for r in q.recipients]) for q in await store.list_queue()]
            want = expected["queue"]
            assert queued == ([(want["sender"], want["recipients"])] if want else [])
            await store.index_pending()  # upgrades may send every message back to the indexer
            assert await store.find_problems() == []
        finally:
            await store.close()

    asyncio.run(check())
    with sqlite_file(data_dir / "pillarbox.sqlite3") as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_a_newer_store_is_refused_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "pillarbox.toml"
    config.write_text('data_dir = "data"\n[listen]\nhttp = ["127.0.0.1:0"]\n')
    init_store(tmp_path / "data")
    with sqlite_file(tmp_path / "data" / "pillarbox.sqlite3") as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    for command in (("serve",), ("user", "list")):
        result = pillarbox(config, *command, check=False)
        lines = result.stderr.decode().strip().splitlines()
        assert result.returncode == 1 and len(lines) == 1, lines
        assert "newer than this Pillarbox" in lines[0] and "Traceback" not in lines[0]
