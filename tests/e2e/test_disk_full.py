"""A server whose data_dir sits on a small file system (a tmpfs this test mounts: root only, as in CI)
that fills up: new mail gets 452 4.3.1, IMAP NO [UNAVAILABLE], what was acknowledged still commits,
the server stays up, and it accepts again by itself once space returns. Also a store on a truly full
disk (no reserve): SQLite's and the file system's errors become the same clean refusal."""

from __future__ import annotations

import asyncio
import imaplib
import os
import poplib
import smtplib
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pillarbox.errors import StorageFull
from pillarbox.store.records import DeliveryTarget
from pillarbox.store.sqlite.store import SQLiteStore
from tests.server_process import ServerProcess, pillarbox, write_config
from tests.stores import default_backend

pytestmark = pytest.mark.skipif(
    default_backend() != "sqlite", reason="the data_dir's own files and disk: SQLite alone keeps mail there")

PASSWORD = "disk-password"
MiB = 1024 * 1024


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "fs"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs", str(mount_point)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _free(path: Path) -> int:
    found = os.statvfs(path)
    return found.f_bavail * found.f_frsize


def _fill(fs: Path, leave: int) -> None:
    """Take all the free space of ``fs`` but ``leave`` bytes (0: all of it)."""
    filler = fs / f"filler{len(list(fs.glob('filler*')))}"
    with open(filler, "wb") as f:
        os.posix_fallocate(f.fileno(), 0, max(_free(fs) - leave, 4096))


def _imap(server: ServerProcess) -> imaplib.IMAP4_SSL:
    imap = imaplib.IMAP4_SSL("127.0.0.1", server.port("imaps"), ssl_context=ssl._create_unverified_context(),
                             timeout=30)
    imap.login("bob@example.com", PASSWORD)
    imap.select("INBOX")
    return imap


def _message(subject: str, body: str = "hello\r\n") -> bytes:
    return f"From: a@remote.test\r\nTo: bob@example.com\r\nSubject: {subject}\r\n\r\n{body}".encode()


def test_a_filling_disk_gets_452_and_the_server_recovers_by_itself(small_fs: Path):
    extra = '[policy]\ncheck = false\n\n[store]\nmin_free_space = "8M"\n'
    config = write_config(small_fs, ("smtp", "imaps", "pop3s"), extra=extra)
    pillarbox(config, "domain", "add", "example.com")
    pillarbox(config, "user", "add", "bob@example.com", "--password-stdin", input=PASSWORD.encode() + b"\n")
    server = ServerProcess(config)
    try:
        with smtplib.SMTP("127.0.0.1", server.port("smtp"), timeout=30) as client:
            client.sendmail("a@remote.test", ["bob@example.com"], _message("before"))
            _fill(small_fs, leave=8 * MiB + 64 * 1024)  # 64 KiB above the reserve
            # RFC 1870 6.1: a declared size that does not fit is refused at MAIL FROM
            assert client.mail("a@remote.test", ["SIZE=200000"]) == (452, b"4.3.1 Insufficient system storage")
            client.rset()
            # undeclared, it is refused after DATA, with nothing stored
            assert client.mail("a@remote.test")[0] == 250 and client.rcpt("bob@example.com")[0] == 250
            assert client.data(_message("large", "x" * 76 + "\r\n") * 2600) == (
                452, b"4.3.1 Insufficient system storage")
            _fill(small_fs, leave=7 * MiB)  # below the reserve now: no new mail at all
            assert client.mail("a@remote.test") == (452, b"4.3.1 Insufficient system storage")
            client.rset()
            imap = _imap(server)
            status, detail = imap.append("INBOX", None, None, _message("appended"))
            assert status == "NO" and detail[0].startswith(b"[UNAVAILABLE]")
            assert imap.store("1", "+FLAGS", "(\\Flagged)")[0] == "OK"  # acknowledged mail still changes
            imap.logout()
            pop = poplib.POP3_SSL("127.0.0.1", server.port("pop3s"), context=ssl._create_unverified_context())
            pop.user("bob@example.com")
            pop.pass_(PASSWORD)
            pop.dele(1)
            assert pop.quit().startswith(b"+OK")  # POP3 deletes use the reserve
            for path in small_fs.glob("filler*"):
                path.unlink()
            client.sendmail("a@remote.test", ["bob@example.com"], _message("after"))
        imap = _imap(server)
        assert imap.append("INBOX", None, None, _message("appended"))[0] == "OK"
        assert imap.search(None, "ALL")[1] == [b"1 2"]
        imap.logout()
    finally:
        assert server.stop() == 0
    assert "Traceback" not in server.log()


def test_a_store_on_a_full_disk_refuses_cleanly_and_goes_on_when_space_returns(small_fs: Path):
    async def scenario() -> None:
        store = SQLiteStore(small_fs / "data", min_free_space=0, free_space=lambda _path: 1 << 40)  # no reserve
        try:
            await store.add_domain("example.com")
            account = await store.add_account("bob@example.com", "x", None)
            inbox = await store.get_mailbox(account.id, "INBOX")
            assert inbox is not None
            _fill(small_fs, leave=0)
            for body in ("y" * 76 + "\r\n") * 1300, ("z" * 76 + "\r\n") * 4000:  # 100 KB inline, 300 KB a blob
                with pytest.raises(StorageFull):
                    await store.deliver(_message("full", body), [DeliveryTarget(inbox.id)])
            for path in small_fs.glob("filler*"):
                path.unlink()
            await store.deliver(_message("room again"), [DeliveryTarget(inbox.id)])
            assert [e.uid for e in await store.list_messages(inbox.id)] == [1]
            assert await store.find_problems() == []
        finally:
            await store.close()

    asyncio.run(scenario())
    assert not list((small_fs / "data" / "blobs").rglob("*.tmp"))  # no half-written blob left behind
