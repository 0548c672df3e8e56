"""A real client: Debian's mbsync (isync) syncing a mailbox both ways over STARTTLS."""

from __future__ import annotations

import subprocess
from pathlib import Path

from imapclient import IMAPClient

from tests.imap_wire.conftest import IMAPServer
from tests.mbsync import run_mbsync
from tests.smtp.conftest import PASSWORD

USER = "dave@example.com"


def mbsync(server: IMAPServer, home: Path, auth_mechs: str = "*") -> subprocess.CompletedProcess[str]:
    return run_mbsync(server.imap, server.data_dir / "tls" / "cert.pem", home, USER, auth_mechs)


def imap(server: IMAPServer) -> IMAPClient:
    client = IMAPClient("127.0.0.1", port=server.imaps, ssl=True, ssl_context=server.tls_context(), timeout=15)
    client.login(USER, PASSWORD)
    return client


def test_mbsync_pulls_and_pushes(server: IMAPServer, tmp_path: Path):
    remote = imap(server)
    for n in range(3):
        remote.append("INBOX", f"Subject: sync {n}\r\nMessage-ID: <sync{n}@test>\r\n\r\nbody {n}\r\n".encode())
    first = mbsync(server, tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    inbox = tmp_path / "Mail" / "INBOX"
    pulled = sorted((inbox / "new").iterdir()) + sorted((inbox / "cur").iterdir())
    assert len(pulled) == 3
    assert (tmp_path / "Mail" / "Sent").is_dir()  # every folder came down

    # locally: mark one seen, and file a new message in a new folder
    target = pulled[0]
    target.rename(inbox / "cur" / (target.name.split(":2,")[0] + ":2,S"))
    new_folder = tmp_path / "Mail" / "Notes"
    for sub in ("cur", "new", "tmp"):
        (new_folder / sub).mkdir(parents=True)
    (new_folder / "new" / "1700000000.1.local").write_bytes(b"Subject: written offline\r\n\r\nnote\r\n")
    second = mbsync(server, tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr

    assert "Notes" in [name for _, _, name in remote.list_folders()]
    remote.select_folder("Notes")
    [uid] = remote.search("ALL")
    pushed = remote.fetch([uid], ["BODY[]"])[uid][b"BODY[]"]
    assert pushed.startswith(b"Subject: written offline\r\n") and pushed.endswith(b"\r\n\r\nnote\r\n")
    remote.select_folder("INBOX")
    assert len(remote.search("SEEN")) == 1
    remote.logout()


def test_mbsync_logs_in_with_scram_and_gets_the_server_signature(server: IMAPServer, tmp_path: Path):
    """SCRAM-SHA-256 through Cyrus SASL: the server-final message ("v=", the server's proof that it knew
    the password) must reach the client as a last challenge (RFC 4422 3.6), or mbsync warns at every sync."""
    result = mbsync(server, tmp_path, auth_mechs="SCRAM-SHA-256")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.strip() == "", result.stderr
    assert 'mechanism=SCRAM-SHA-256' in server.process.log()
