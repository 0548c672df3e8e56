"""``pillarbox backup`` while SMTP mail keeps arriving, ``restore`` onto a new data_dir, and a client that
was in sync with the old server finds the restored one identical (same UIDVALIDITY, UIDs and flags)."""

from __future__ import annotations

import shutil
import smtplib
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from imapclient import IMAPClient

from tests.imap_wire.conftest import IMAPServer, start_imap_server
from tests.imap_wire.test_mbsync import USER as SYNCED_USER
from tests.imap_wire.test_mbsync import mbsync
from tests.server_process import ServerProcess, cli_env
from tests.smtp.conftest import PASSWORD

LOADED_USER = "bob@example.com"
BIG = "x" * 200 + "\r\n"  # lines of a body past the in-row limit: a blob file


def message(subject: str, big: bool = False) -> bytes:
    body = BIG * 1000 if big else "small\r\n"
    return (f"From: a@example.net\r\nTo: {LOADED_USER}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject}@example.net>\r\n\r\n{body}").encode()


class Load(threading.Thread):
    """SMTP deliveries one after the other; ``acked`` holds each subject once its 250 came back."""

    def __init__(self, port: int, count: int) -> None:
        super().__init__(daemon=True)
        self.port, self.count, self.acked = port, count, list[str]()

    def run(self) -> None:
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as client:
            for n in range(self.count):
                subject = f"load-{n}"
                client.sendmail("a@example.net", [LOADED_USER], message(subject, big=n % 3 == 0))
                self.acked.append(subject)


def imap(port: int, cafile: Path, user: str) -> IMAPClient:
    import ssl

    client = IMAPClient("127.0.0.1", port=port, ssl=True, timeout=15,
                        ssl_context=ssl.create_default_context(cafile=str(cafile)))
    client.login(user, PASSWORD)
    return client


def mailbox_state(server: IMAPServer, user: str) -> tuple[int, dict[str, tuple[int, tuple[bytes, ...]]]]:
    """UIDVALIDITY, and per subject: (UID, flags)."""
    client = imap(server.imaps, server.data_dir / "tls" / "cert.pem", user)
    try:
        selected = client.select_folder("INBOX")
        fetched = client.fetch(client.search("ALL"), ["FLAGS", "BODY.PEEK[HEADER.FIELDS (SUBJECT)]"])  # by UID
        state = {data[b"BODY[HEADER.FIELDS (SUBJECT)]"].decode().split(":", 1)[1].strip():
                 (uid, tuple(sorted(data[b"FLAGS"]))) for uid, data in fetched.items()}
        return selected[b"UIDVALIDITY"], state
    finally:
        client.logout()


def maildir_files(home: Path) -> set[str]:
    return {p.name.split(",U=")[0] for p in (home / "Mail").rglob("*") if p.is_file() and p.parent.name in
            ("cur", "new")}


def pillarbox(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pillarbox", "--config", str(config), *args],
                          capture_output=True, text=True, env=cli_env(), timeout=300)


def prepare_synced_user(server: IMAPServer, home: Path) -> None:
    client = imap(server.imaps, server.data_dir / "tls" / "cert.pem", SYNCED_USER)
    for n in range(4):
        client.append("INBOX", message(f"synced-{n}", big=n == 0))
    client.select_folder("INBOX")
    client.add_flags([1], [b"\\Flagged"])
    client.add_flags([2], [b"\\Seen", b"$Label1"])
    client.logout()
    home.mkdir()
    assert mbsync(server, home).returncode == 0


@pytest.mark.slow
def test_backup_during_smtp_load_restores_every_acknowledged_message(tmp_path: Path) -> None:
    (tmp_path / "old").mkdir()
    old = start_imap_server(tmp_path / "old")
    home = tmp_path / "home"
    try:
        prepare_synced_user(old, home)
        synced = maildir_files(home)
        load = Load(old.smtp, count=60)
        load.start()
        while len(load.acked) < 10:
            time.sleep(0.01)
        acked_before = list(load.acked)
        made = pillarbox(old.process.config, "backup", str(tmp_path / "backup"))
        assert made.returncode == 0, made.stderr
        load.join(120)
        assert len(load.acked) == 60
        before = {user: mailbox_state(old, user) for user in (LOADED_USER, SYNCED_USER)}
    finally:
        assert old.process.stop() == 0
    assert "backed up" in made.stdout and made.stderr == ""

    new_dir = tmp_path / "new"
    new_dir.mkdir()
    config = new_dir / "pillarbox.toml"
    shutil.copy(old.process.config, config)  # the same config, pointed at a data_dir with no store yet
    restored = pillarbox(config, "restore", str(tmp_path / "backup"))
    assert restored.returncode == 0, restored.stderr
    checked = pillarbox(config, "store", "check")
    assert checked.returncode == 0, checked.stdout

    new = IMAPServer(ServerProcess(config), new_dir / "data")
    try:
        validity, loaded = mailbox_state(new, LOADED_USER)
        assert validity == before[LOADED_USER][0]
        assert set(acked_before) <= set(loaded)  # every 250 before the backup began is there
        assert all(before[LOADED_USER][1][subject] == kept for subject, kept in loaded.items())
        assert mailbox_state(new, SYNCED_USER) == before[SYNCED_USER]  # UIDVALIDITY, UIDs, flags
        again = mbsync(new, home)
        assert again.returncode == 0, again.stdout + again.stderr
        assert maildir_files(home) == synced  # nothing new came down, nothing went away
    finally:
        assert new.process.stop() == 0


def test_restore_refuses_a_data_dir_with_a_store_and_backup_a_used_destination(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    server = start_imap_server(tmp_path / "one")
    assert server.process.stop() == 0
    config = server.process.config
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    refused = pillarbox(config, "backup", str(tmp_path / "full"))
    assert refused.returncode == 1 and "is not empty" in refused.stderr
    assert pillarbox(config, "backup", str(tmp_path / "copy")).returncode == 0
    refused = pillarbox(config, "restore", str(tmp_path / "copy"))
    assert refused.returncode == 1 and "not empty" in refused.stderr and len(refused.stderr.splitlines()) == 1

