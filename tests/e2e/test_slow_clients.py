"""Slow clients on a real server (security issue, item 5): a deadline per command, a minimum rate for
message content and literals, a time limit on a peer that stops reading.

The server runs with deadlines of 2 seconds (the defaults are the RFC minutes, far too long for a
test); an attacker sends one byte every 0.2 s, which a timer restarted by every read never stops. An
authenticated IMAP IDLE session and a large message sent at a sane speed are not slow clients.
"""

from __future__ import annotations

import imaplib
import socket
import time
from collections.abc import Iterator

import pytest

from tests.imap_wire.conftest import IMAPServer
from tests.server_process import ServerProcess, write_config
from tests.smtp.conftest import NO_POLICY, PASSWORD, populate

DEADLINES = """[limits]
smtp_timeout = 2
imap_login_timeout = 2
pop3_timeout = 2
transfer_timeout = 2
min_transfer_rate = 1000
send_timeout = 2
"""
EVERY = 0.2


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IMAPServer]:
    tmp = tmp_path_factory.mktemp("slow")
    config = write_config(tmp, services=("smtp", "imap", "pop3", "http"), extra=NO_POLICY + DEADLINES)
    populate(tmp / "data")
    running = IMAPServer(ServerProcess(config), tmp / "data")
    yield running
    assert running.process.stop() == 0
    assert "Traceback" not in running.process.log()


def trickle(sock: socket.socket, data: bytes) -> bytes:
    """Send ``data`` one byte every ``EVERY`` seconds; what the server said until it closed (or, if it
    never did, until 10 s after the last byte)."""
    received = b""
    sock.settimeout(EVERY)
    for byte in data:
        try:
            sock.sendall(bytes([byte]))
            chunk = sock.recv(4096)
        except TimeoutError:
            continue
        except OSError:
            break
        if not chunk:
            return received
        received += chunk
    sock.settimeout(10)
    while chunk := _recv(sock):
        received += chunk
    return received


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def connect(port: int) -> tuple[socket.socket, bytes]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return sock, sock.recv(4096)


def smtp_in_data(server: IMAPServer) -> socket.socket:
    sock, _greeting = connect(server.smtp)
    sock.sendall(b"HELO peer.test\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n")
    received = b""
    while b"354 " not in received:
        received += sock.recv(4096)
    return sock


def test_an_smtp_command_sent_a_byte_at_a_time_is_cut_off(server: IMAPServer):
    sock, _ = connect(server.smtp)
    with sock:
        said = trickle(sock, b"NOOP " + b"x" * 40 + b"\r\n")  # 9 s at this pace
    assert said.startswith(b"421 4.4.2") and b"250" not in said, said  # the NOOP never completed


def test_smtp_data_trickled_in_is_cut_off_and_not_stored(server: IMAPServer):
    before = len(server.messages("bob@example.com"))
    with smtp_in_data(server) as sock:
        said = trickle(sock, b"Subject: slow\r\n\r\n" + b"x" * 40 + b"\r\n.\r\n")
    assert said.startswith(b"421 4.4.2"), said
    assert len(server.messages("bob@example.com")) == before


def test_a_large_message_at_a_sane_speed_takes_longer_than_the_grace_and_is_accepted(server: IMAPServer):
    line = b"y" * 998 + b"\r\n"
    with smtp_in_data(server) as sock:
        sock.sendall(b"Subject: paced\r\n\r\n")
        for _ in range(14):  # 3.5 s in all, past the 2 s grace, at 57 KB/s
            sock.sendall(line * 200)
            time.sleep(0.25)
        sock.sendall(b".\r\n")
        assert sock.recv(4096).startswith(b"250 2.0.0")


def test_an_imap_command_before_login_sent_a_byte_at_a_time_is_cut_off(server: IMAPServer):
    sock, _greeting = connect(server.imap)
    with sock:
        said = trickle(sock, b"a1 CAPABILITY " + b"x" * 40 + b"\r\n")
    assert said.startswith(b"* BYE") and b"a1 " not in said, said


class NarrowIMAP(imaplib.IMAP4):
    """A client with a small, fixed receive window (no autotuning: loopback's may reach 32 MB)."""

    def _create_socket(self, timeout: float | None) -> socket.socket:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        sock.settimeout(timeout)
        sock.connect((self.host, self.port))
        return sock


def login(server: IMAPServer, client_class: type[imaplib.IMAP4] = imaplib.IMAP4) -> imaplib.IMAP4:
    client = client_class("127.0.0.1", server.imap, timeout=10)
    client.starttls(ssl_context=server.tls_context())
    client.login("dave@example.com", PASSWORD)
    return client


def test_an_append_literal_trickled_in_after_login_is_cut_off(server: IMAPServer):
    client = login(server)
    client.send(b"A1 APPEND INBOX {60}\r\n")
    assert client.readline().startswith(b"+")
    said = trickle(client.sock, b"Subject: slow\r\n\r\n" + b"x" * 41 + b"\r\n")
    client.shutdown()
    assert said.startswith(b"* BYE") and b"A1 " not in said, said


def test_an_authenticated_idle_is_not_a_slow_client(server: IMAPServer):
    client = login(server)
    client.select("INBOX")
    client.send(b"I1 IDLE\r\n")
    assert client.readline().startswith(b"+")
    time.sleep(4)  # twice every deadline above; RFC 9051 5.4: at least 30 minutes after login
    client.send(b"DONE\r\n")
    assert client.readline().startswith(b"I1 OK")
    client.logout()


def test_a_pop3_command_sent_a_byte_at_a_time_is_cut_off(server: IMAPServer):
    sock, greeting = connect(server.process.port("pop3"))
    assert greeting.startswith(b"+OK")
    with sock:
        said = trickle(sock, b"CAPA " + b"x" * 40 + b"\r\n")
    assert said.startswith(b"-ERR") and b"Capability" not in said and len(said.splitlines()) == 1, said


def test_a_client_that_stops_reading_is_let_go(server: IMAPServer):
    message = b"Subject: big\r\n\r\n" + (b"z" * 998 + b"\r\n") * 8000  # 8 MB: more than socket buffers
    client = login(server, NarrowIMAP)
    assert client.append("INBOX", None, None, message)[0] == "OK"
    client.select("INBOX")
    client.send(b"F1 FETCH * BODY.PEEK[]\r\n")
    time.sleep(5)  # not reading: the server's write waits, more than send_timeout
    received = b""
    client.sock.settimeout(10)
    while chunk := _recv(client.sock):
        received += chunk
    assert len(received) < len(message) and b"F1 OK" not in received  # cut off, not finished
