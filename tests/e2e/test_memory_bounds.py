"""Memory a stranger can make the server hold (security issue, item 4), measured on a real server.

Ten clients that start a large message and never finish it (SMTP DATA, BDAT, an IMAP APPEND after
login) or announce a 50 MB literal before login must not grow the server: the bodies wait in
unnamed 0600 files under data_dir/spool, and before login only small literals are taken. What is
finished is stored byte for byte, read back from the spool.
"""

from __future__ import annotations

import contextlib
import hashlib
import imaplib
import os
import socket
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.imap_wire.conftest import IMAPServer, start_imap_server
from tests.smtp.conftest import PASSWORD

CLIENTS = 10
SENT = 16 * 1024 * 1024  # of each 50 MB body, never finished
GROWTH_ALLOWED = 16 * 1024 * 1024  # "a few MB"; 10 × 16 MB kept in memory would be 160
PIECE = b"0123456789abcdef" * 4096  # 64 KiB of message text, CRLF-free as DATA allows in a line


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IMAPServer]:
    tmp = tmp_path_factory.mktemp("memory")
    (tmp / "data" / "spool").mkdir(parents=True)
    (tmp / "data" / "spool" / "tmpleftover").write_bytes(b"left by a crash")
    running = start_imap_server(tmp)
    yield running
    assert running.process.stop() == 0
    assert "Traceback" not in running.process.log()


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def spool_files(pid: int, spool: Path) -> list[os.stat_result]:
    """The spool files the server holds open (they have no name: only /proc shows them)."""
    found = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(str(spool)):
            found.append(os.stat(fd))
    return found


def settle(server: IMAPServer, expected_files: int) -> None:
    """Give the server a moment to take in what is still in the socket buffers."""
    deadline = time.monotonic() + 10
    pid = server.process.process.pid
    while time.monotonic() < deadline:
        files = spool_files(pid, server.data_dir / "spool")
        if len(files) >= expected_files and all(f.st_size >= SENT - 2 * len(PIECE) for f in files):
            return
        time.sleep(0.1)


def send_body(sock: socket.socket, size: int) -> None:
    for _ in range(size // len(PIECE)):
        sock.sendall(PIECE)


def reply(reader) -> bytes:
    """One whole SMTP reply (its last line is "code SP text")."""
    lines = [reader.readline()]
    while lines[-1][3:4] == b"-":
        lines.append(reader.readline())
    return b"".join(lines)


def smtp_transaction(port: int, command: bytes) -> socket.socket:
    """A connection in the middle of a transaction for bob, after ``command`` (DATA: 354 heard)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    reader = sock.makefile("rb")
    reply(reader)
    sock.sendall(b"EHLO peer.test\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<bob@example.com>\r\n" + command)
    replies = [reply(reader) for _ in range(4 if command.startswith(b"DATA") else 3)]
    assert [r[:3] for r in replies] in ([b"250"] * 3, [b"250"] * 3 + [b"354"]), replies
    return sock


def test_the_spool_is_swept_at_start_and_nothing_in_it_has_a_name(server: IMAPServer):
    assert list((server.data_dir / "spool").iterdir()) == []
    assert stat.S_IMODE((server.data_dir / "spool").stat().st_mode) == 0o700


@contextlib.contextmanager
def held_open(server: IMAPServer, open_one: Callable[[int], Callable[[], object]]) -> Iterator[Callable[[], int]]:
    """``CLIENTS`` connections made by ``open_one`` (which returns how to close one), held open for the
    block; it is given how much the server has grown since just before the first."""
    pid = server.process.process.pid
    before = rss(pid)
    with contextlib.ExitStack() as held:
        for n in range(CLIENTS):
            held.callback(open_one(n))
        yield lambda: rss(pid) - before


def test_ten_half_sent_50_mb_messages_do_not_grow_the_server(server: IMAPServer):
    def half_sent(n: int) -> Callable[[], object]:
        sock = smtp_transaction(server.smtp, b"DATA\r\n" if n % 2 else b"BDAT 52428800 LAST\r\n")
        send_body(sock, SENT)
        return sock.close

    with held_open(server, half_sent) as grown:
        settle(server, CLIENTS)
        assert grown() < GROWTH_ALLOWED, f"RSS grew by {grown() >> 20} MB"
        files = spool_files(server.process.process.pid, server.data_dir / "spool")
        assert len(files) == CLIENTS and {stat.S_IMODE(f.st_mode) for f in files} == {0o600}
        assert list((server.data_dir / "spool").iterdir()) == []  # no names


def test_a_large_message_finished_is_stored_byte_for_byte(server: IMAPServer):
    body = b"Subject: large\r\n\r\n" + b"".join(PIECE + b"\r\n" for _ in range(48))  # 3 MiB: spooled
    sock = smtp_transaction(server.smtp, b"DATA\r\n")
    with sock:
        sock.sendall(body + b".\r\nQUIT\r\n")
        replies = sock.makefile("rb").read()
    assert replies.startswith(b"250 2.0.0"), replies
    stored = next(m for m in server.messages("bob@example.com") if b"Subject: large" in m)
    assert hashlib.sha256(stored[stored.index(b"Subject: large"):]).digest() == hashlib.sha256(body).digest()
    assert spool_files(server.process.process.pid, server.data_dir / "spool") == []  # let go after delivery


def imap_stranger(server: IMAPServer) -> tuple[socket.socket, object]:
    sock = socket.create_connection(("127.0.0.1", server.imap), timeout=30)
    reader = sock.makefile("rb")
    greeting = reader.readline()
    assert b"LITERAL-" in greeting and b"LITERAL+" not in greeting  # never both: RFC 7888 5
    return sock, reader


def test_before_login_a_50_mb_literal_is_refused_at_once(server: IMAPServer):
    def announced(_n: int) -> Callable[[], object]:
        sock, reader = imap_stranger(server)
        sock.sendall(b"X LOGIN {52428800+}\r\n")
        assert reader.readline().startswith(b"X BAD [TOOBIG]")  # before the literal's octets
        send_body(sock, SENT)  # read and dropped, never kept
        return sock.close

    with held_open(server, announced) as grown:
        time.sleep(1)
        assert grown() < GROWTH_ALLOWED
    sock, reader = imap_stranger(server)
    with sock:
        sock.sendall(b"Y LOGIN {52428800}\r\n")
        assert reader.readline().startswith(b"Y NO [TOOBIG]")  # synchronizing: no "+", nothing sent
        sock.sendall(b"Z LOGIN {5}\r\n")
        assert reader.readline().startswith(b"+")  # a small literal is fine


def login(server: IMAPServer) -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", server.imap, timeout=30)
    client.starttls(ssl_context=server.tls_context())
    client.login("carol@example.com", PASSWORD)
    return client


def test_after_login_half_sent_appends_wait_on_disk_and_a_finished_one_is_stored(server: IMAPServer):
    def half_sent(_n: int) -> Callable[[], object]:
        client = login(server)
        client.send(b"A1 APPEND INBOX {52428800}\r\n")
        assert client.readline().startswith(b"+")
        send_body(client.sock, SENT)
        return client.shutdown

    with held_open(server, half_sent) as grown:
        settle(server, CLIENTS)
        assert grown() < GROWTH_ALLOWED
        assert len(spool_files(server.process.process.pid, server.data_dir / "spool")) == CLIENTS
    message = b"Subject: appended\r\n\r\n" + b"".join(PIECE + b"\r\n" for _ in range(40))
    client = login(server)
    status, data = client.append("INBOX", None, None, message)
    assert status == "OK", data
    client.select("INBOX")
    status, fetched = client.fetch(b"*", "(BODY.PEEK[])")
    assert fetched[0][1] == message
    client.logout()
