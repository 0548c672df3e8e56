"""Moving an install to PostgreSQL is invisible to IMAP clients: mbsync syncs a SQLite install, the store
is migrated (``pillarbox store migrate``), and mbsync's next run against the server on PostgreSQL sees
the same UIDVALIDITYs and UIDs, so it fetches no message body and changes nothing locally."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pillarbox.auth.passwords import make_credentials
from pillarbox.store.records import DeliveryTarget
from tests import pg_cluster, stores
from tests.mbsync import run_mbsync
from tests.server_process import ServerProcess, pillarbox, run_at, write_config
from tests.smtp.conftest import PASSWORD

pytestmark = pytest.mark.slow
USER = "dave@example.com"


def _mbsync(server: ServerProcess, home: Path) -> subprocess.CompletedProcess[str]:
    certificate = server.config.parent / "data" / "tls" / "cert.pem"
    return run_mbsync(server.port("imap"), certificate, home, USER, network_log=True)


async def _fill(store) -> None:
    await store.add_domain("example.com")
    dave = await store.add_account(USER, *make_credentials(PASSWORD))
    inbox = await store.get_mailbox(dave.id, "INBOX")
    archive = await store.create_mailbox(dave.id, "Projects")
    for n in range(6):
        raw = f"From: x@example.net\r\nMessage-ID: <m{n}@x>\r\nSubject: m{n}\r\n\r\nbody {n}\r\n".encode()
        await store.deliver(raw, [DeliveryTarget((inbox, archive)[n % 2].id, frozenset({"\\Seen"} if n % 3 else ()))])


def _local_files(home: Path) -> set[str]:
    return {str(path.relative_to(home)) for path in (home / "Mail").rglob("*") if path.is_file()}


def test_mbsync_fetches_no_body_again_after_the_move(tmp_path: Path, postgres_cluster: pg_cluster.Cluster):
    if stores.url_for(tmp_path / "server" / "data"):
        pytest.skip("the source of a migration is a SQLite data_dir")
    directory = tmp_path / "server"
    directory.mkdir()
    config = write_config(directory, services=("imap",))
    run_at(directory / "data", _fill)
    home = tmp_path / "home"
    home.mkdir()
    server = ServerProcess(config)
    try:
        first = _mbsync(server, home)
    finally:
        server.stop()
    assert first.returncode == 0, first.stdout + first.stderr
    assert "BODY.PEEK[]" in first.stdout  # the first run fetched the bodies
    before = _local_files(home)
    assert sum("/cur/" in name or "/new/" in name for name in before) == 6

    target = stores.fresh_database(postgres_cluster.url())
    pillarbox(config, "store", "migrate", "--to", target)
    config.write_text(config.read_text() + f'\n[store]\nurl = "{target}"\n')
    server = ServerProcess(config)
    try:
        second = _mbsync(server, home)
        assert "PostgreSQL" in server.log()
    finally:
        server.stop()
    assert second.returncode == 0, second.stdout + second.stderr
    assert "BODY.PEEK[]" not in second.stdout and "UIDVALIDITY" not in second.stderr
    assert _local_files(home) == before
