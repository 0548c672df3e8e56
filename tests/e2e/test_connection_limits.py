"""Connection limits on a real server: a limit per kind of listener, room kept for logged-in users and
for health checks, the oldest stranger let go when full (security issue, item 5), and limits that
suit an office behind NAT (conformance issue): IMAP counts per user and address once logged in
(Dovecot's 10), SMTP per address (Postfix's 50).
"""

from __future__ import annotations

import contextlib
import imaplib
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from pillarbox.net.tls import ensure_certificate
from tests.imap_wire.conftest import IMAPServer
from tests.server_process import ServerProcess, cli_env, init_store, pillarbox, write_config
from tests.smtp.conftest import NO_POLICY, PASSWORD, populate

FREE_ON_DISK = 48 * 1024  # SQLite opens with 32 KB; the board of 2 processes needs 256 KB (main's: 64 KB)
USERS = ("bob@example.com", "carol@example.com", "dave@example.com", "full@example.com")


def start(tmp: Path, limits: str, services: tuple[str, ...] = ("smtp", "imap", "http")) -> IMAPServer:
    config = write_config(tmp, services=services, extra=NO_POLICY + "[limits]\n" + limits)
    populate(tmp / "data")
    return IMAPServer(ServerProcess(config), tmp / "data")


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator:
    started: list[IMAPServer] = []

    def make(limits: str) -> IMAPServer:
        started.append(start(tmp_path, limits))
        return started[-1]

    yield make
    for running in started:
        assert running.process.stop() == 0
        assert "Traceback" not in running.process.log()


def stranger(port: int) -> tuple[socket.socket, object]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    reader = sock.makefile("rb")
    return sock, reader


def login(server: IMAPServer, user: str) -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", server.imap, timeout=10)
    client.starttls(ssl_context=server.tls_context())
    client.login(user, PASSWORD)
    return client


def healthz(server: IMAPServer) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.process.port('http')}/healthz", timeout=10) as answer:
        return answer.status


def test_a_full_imap_listener_locks_out_neither_smtp_nor_the_health_check(server_factory):
    """The old single cap (max_connections, kept as the default of each listener's own)."""
    server = server_factory("max_connections = 6\n")
    held = [stranger(server.imap) for _ in range(6)]
    assert all(reader.readline().startswith(b"* OK") for _sock, reader in held)
    assert healthz(server) == 200
    with socket.create_connection(("127.0.0.1", server.smtp), timeout=10) as smtp:
        assert smtp.recv(1024).startswith(b"220 ")
    for sock, _reader in held:
        sock.close()


def test_when_full_the_oldest_stranger_goes_and_logged_in_users_stay(server_factory):
    server = server_factory("imap_connections = 6\nreserved_for_users = 34\n")  # 2 places only for users
    users = [login(server, user) for user in USERS[:2]]
    strangers = [stranger(server.imap) for _ in range(4)]
    assert all(reader.readline().startswith(b"* OK") for _sock, reader in strangers)
    newcomer = stranger(server.imap)
    assert newcomer[1].readline().startswith(b"* OK")  # let in...
    goodbye = strangers[0][1].read()  # ...and the oldest stranger let go, with the reason
    assert goodbye == b"* BYE [UNAVAILABLE] Too many connections, try again later\r\n"
    assert all(client.noop()[0] == "OK" for client in users)
    users += [login(server, user) for user in USERS[2:]]  # a stranger logs in... (two let go for them)
    users.append(login(server, USERS[0]))
    users.append(login(server, USERS[1]))
    assert len(users) == 6 and all(client.noop()[0] == "OK" for client in users)
    late, reader = stranger(server.imap)  # every place is a user's: refused
    assert reader.read() == b"* BYE [UNAVAILABLE] Too many connections, try again later\r\n"
    late.close()
    assert healthz(server) == 200
    for client in users:
        client.logout()
    for sock, _reader in [*strangers, newcomer]:
        sock.close()


def test_an_office_behind_one_address_is_not_locked_out(server_factory):
    """Four colleagues with six connections each (Thunderbird opens five per account) from one
    address: 24 sessions, where one limit of 20 per address stopped the 21st."""
    server = server_factory("")
    sessions = [login(server, user) for user in USERS for _ in range(6)]
    assert all(client.noop()[0] == "OK" for client in sessions)
    sessions += [login(server, "bob@example.com") for _ in range(4)]  # bob: 10 from here, the limit
    with pytest.raises(imaplib.IMAP4.error, match=r"UNAVAILABLE"):
        login(server, "bob@example.com")  # the 11th: Dovecot's mail_max_userip_connections
    assert login(server, "carol@example.com").noop()[0] == "OK"  # carol is not bob
    for client in sessions:
        client.logout()


def test_smtp_counts_per_address_like_postfix(server_factory):
    server = server_factory("")
    held = [socket.create_connection(("127.0.0.1", server.smtp), timeout=10) for _ in range(50)]
    assert all(sock.recv(1024).startswith(b"220 ") for sock in held)
    with socket.create_connection(("127.0.0.1", server.smtp), timeout=10) as extra:
        assert extra.recv(1024).startswith(b"421 4.7.0")
    for sock in held:
        sock.close()


@pytest.mark.skipif(sys.platform != "linux" or not hasattr(subprocess, "run"), reason="Linux tmpfs")
def test_workers_on_a_full_disk_stop_with_one_line_not_sigbus(tmp_path: Path):
    """With workers = 2 the processes share a mapped file: on a full disk, writing through the map
    is SIGBUS, a crash without a word. Allocated first, it is one line."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(disk)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs (needs root)")
    try:
        config = write_config(tmp_path, ("smtp",), extra=NO_POLICY, workers=2)
        config.write_text(config.read_text().replace('data_dir = "data"', 'data_dir = "disk"'))
        init_store(disk)
        pillarbox(config, "domain", "add", "example.com")  # the store and its files exist
        ensure_certificate(disk, "mx.test")
        with (disk / "filler").open("wb", buffering=0) as out:
            with contextlib.suppress(OSError):
                while True:  # until the disk is full
                    out.write(b"\0" * 4096)
            out.truncate(out.tell() - FREE_ON_DISK)  # room for the store to open, not for the board
        result = subprocess.run([sys.executable, "-m", "pillarbox", "--config", str(config), "serve"],
                                capture_output=True, env=cli_env(), timeout=60)
        assert result.returncode > 0, result  # an exit status, not a signal
        lines = result.stderr.decode().strip().splitlines()
        assert lines[-1].startswith("pillarbox: error: ") and "workers.load" in lines[-1], lines
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
