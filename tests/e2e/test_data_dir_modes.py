"""Nothing in the data_dir is readable by other local users: 0700 folders, 0600 files, an older install
repaired at start, and ``pillarbox store check`` naming any path that lets others in."""

from __future__ import annotations

import imaplib
import os
import poplib
import smtplib
import ssl
import stat
from pathlib import Path

import pytest

from tests.server_process import ServerProcess, pillarbox, write_config
from tests.stores import default_backend

pytestmark = pytest.mark.skipif(
    default_backend() != "sqlite", reason="the data_dir's own files and disk: SQLite alone keeps mail there")

PASSWORD = "modes-password"
LARGE = "x" * 76 + "\r\n"  # 200 KB of these: past the inline limit, so the body goes to a blob file


def _configured(tmp_path: Path) -> Path:
    config = write_config(tmp_path, ("smtp", "imaps", "pop3s", "http"), extra="[policy]\ncheck = false\n")
    pillarbox(config, "domain", "add", "example.com")
    pillarbox(config, "user", "add", "bob@example.com", "--password-stdin", input=PASSWORD.encode() + b"\n")
    pillarbox(config, "dkim", "rotate", "example.com")
    return config


def _use_everything(server: ServerProcess) -> None:
    """Mail in (small and large), read over IMAP (search too) and POP3: every file the server makes."""
    with smtplib.SMTP("127.0.0.1", server.port("smtp"), timeout=30) as client:
        for body in ("small\r\n", LARGE * 2700):
            client.sendmail("a@remote.test", ["bob@example.com"], f"Subject: s\r\n\r\n{body}".encode())
    context = ssl._create_unverified_context()
    with imaplib.IMAP4_SSL("127.0.0.1", server.port("imaps"), ssl_context=context, timeout=30) as imap:
        imap.login("bob@example.com", PASSWORD)
        imap.select("INBOX")
        assert imap.search(None, "BODY", "small")[1] == [b"1"]
    pop = poplib.POP3_SSL("127.0.0.1", server.port("pop3s"), context=context, timeout=30)
    pop.user("bob@example.com")
    pop.pass_(PASSWORD)
    assert pop.stat()[0] == 2
    pop.quit()


def _open_to_others(data_dir: Path) -> list[str]:
    found = []
    for path in [data_dir, *data_dir.rglob("*")]:
        mode = path.lstat().st_mode
        wanted = 0o700 if stat.S_ISDIR(mode) else 0o600
        if not stat.S_ISLNK(mode) and stat.S_IMODE(mode) & 0o077:
            found.append(f"{path.relative_to(data_dir)} {stat.S_IMODE(mode):o} (want {wanted:o})")
    return found


def test_every_path_the_server_makes_is_private(tmp_path: Path):
    server = ServerProcess(_configured(tmp_path))
    try:
        _use_everything(server)
        data_dir = tmp_path / "data"
        assert any(p.is_file() for p in (data_dir / "blobs").rglob("*"))  # the large one
        assert (data_dir / "pillarbox.sqlite3-wal").exists() and (data_dir / "tls" / "key.pem").exists()
        assert _open_to_others(data_dir) == []
    finally:
        assert server.stop() == 0
    assert _open_to_others(tmp_path / "data") == []


def test_an_older_install_open_to_everyone_is_repaired_at_start(tmp_path: Path):
    config = _configured(tmp_path)
    server = ServerProcess(config)
    _use_everything(server)
    assert server.stop() == 0
    data_dir = tmp_path / "data"
    for path in [data_dir, *data_dir.rglob("*")]:  # what a umask of 022 used to leave
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    assert _open_to_others(data_dir)
    server = ServerProcess(config)
    try:
        server.wait_for_log(r'msg="file modes repaired: the data_dir was open to other users"')
        assert _open_to_others(data_dir) == []
    finally:
        assert server.stop() == 0


def test_store_check_names_a_path_that_lets_others_in(tmp_path: Path):
    config = _configured(tmp_path)
    server = ServerProcess(config)
    _use_everything(server)
    assert server.stop() == 0
    assert pillarbox(config, "store", "check").stdout.decode().endswith("no problems\n")
    blob = next(p for p in (tmp_path / "data" / "blobs").rglob("*") if p.is_file())
    os.chmod(blob, 0o644)  # the data_dir stays 0700, so only a full walk finds it
    result = pillarbox(config, "store", "check", check=False)
    assert result.returncode == 1
    assert f"{blob}: mode 0644 lets others in, should be 0600" in result.stdout.decode()
