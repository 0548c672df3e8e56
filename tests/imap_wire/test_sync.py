"""Many clients, one mailbox: changes made anywhere reach every session, IDLE within a second."""

from __future__ import annotations

import smtplib
import subprocess
import sys

from imapclient import IMAPClient

from tests.imap_wire.conftest import IMAPServer
from tests.server_process import cli_env
from tests.smtp.conftest import PASSWORD


def client_for(server: IMAPServer, user: str = "carol@example.com") -> IMAPClient:
    client = IMAPClient("127.0.0.1", port=server.imap, ssl=False, timeout=15)
    client.starttls(server.tls_context())
    client.login(user, PASSWORD)
    return client


def deliver(server: IMAPServer, subject: str, to: str = "carol@example.com") -> None:
    with smtplib.SMTP("127.0.0.1", server.smtp, timeout=10) as smtp:
        smtp.sendmail("a@remote.test", [to], f"Subject: {subject}\r\n\r\nbody\r\n".encode())


def test_other_sessions_see_new_mail_flags_and_expunges(server: IMAPServer):
    a, b = client_for(server), client_for(server)
    a.create_folder("Shared")
    for n in range(3):
        a.append("Shared", f"Subject: s{n}\r\n\r\nx\r\n".encode())
    a.select_folder("Shared")
    b.select_folder("Shared")
    a.append("Shared", b"Subject: s3\r\n\r\nx\r\n")
    assert (4, b"EXISTS") in b.noop()[1]
    a.add_flags([1], [b"\\Flagged"])
    changes = b.noop()[1]
    assert any(item[0] == 1 and item[1] == b"FETCH" and b"\\Flagged" in item[2][item[2].index(b"FLAGS") + 1]
               for item in changes if len(item) > 2)
    a.add_flags([2], [b"\\Deleted"])
    a.expunge()
    # no EXPUNGE while B fetches (RFC 9051 7.5.1): B still sees 4 messages until its NOOP
    b.use_uid = False
    assert sorted(b.fetch([1, 2, 3, 4], ["UID"])) == [1, 2, 3, 4]
    assert (2, b"EXPUNGE") in b.noop()[1]
    assert sorted(b.fetch([1, 2, 3], ["UID"])) == [1, 2, 3]
    a.logout()
    b.logout()


def test_idle_gets_smtp_delivery_pushed(server: IMAPServer):
    # pushed, not polled by the client: a local commit pokes the change feed at once (other
    # processes' commits are seen within its 250 ms poll); no timing is asserted on a shared machine
    watcher = client_for(server)
    watcher.select_folder("INBOX")
    count = watcher.folder_status("INBOX", [b"MESSAGES"])[b"MESSAGES"]
    watcher.idle()
    deliver(server, "wake up")
    responses = watcher.idle_check(timeout=10)
    watcher.idle_done()
    assert (count + 1, b"EXISTS") in responses
    watcher.logout()


def test_idle_sees_cli_delivery_from_another_process(server: IMAPServer):
    watcher = client_for(server)
    watcher.select_folder("INBOX")
    watcher.idle()
    subprocess.run(
        [sys.executable, "-m", "pillarbox", "--config", str(server.data_dir.parent / "pillarbox.toml"),
         "message", "add", "carol@example.com"],
        input=b"Subject: from the CLI\r\n\r\nhi\r\n", env=cli_env(), check=True, timeout=60,
    )
    responses = watcher.idle_check(timeout=5)
    watcher.idle_done()
    assert any(item[1] == b"EXISTS" for item in responses if len(item) > 1)
    watcher.logout()


def test_flag_change_by_another_session_reaches_idle(server: IMAPServer):
    deliver(server, "to be flagged")  # its own message: the module's server may be fresh (xdist)
    watcher, actor = client_for(server), client_for(server)
    watcher.select_folder("INBOX")
    actor.select_folder("INBOX")
    [uid] = actor.search(["SUBJECT", "to be flagged"])
    watcher.idle()
    actor.add_flags([uid], [b"$Important"])
    responses = watcher.idle_check(timeout=5)
    watcher.idle_done()
    assert any(item[1] == b"FETCH" for item in responses if len(item) > 1)
    watcher.logout()
    actor.logout()
