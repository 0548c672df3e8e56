"""Hostile input over the wire: smuggling, STARTTLS injection, error and connection limits, crashes."""

from __future__ import annotations

import signal
import smtplib
import socket
import ssl
import time
from pathlib import Path

import pytest

from tests.smtp.conftest import MailServer, start_server
from tests.smtp.test_wire_mx import final_lines, raw_session

SMUGGLING = [b"\n.\n", b"\n.\r\n", b"\r.\r", b"\r\n.\r", b"\r\n.\n"]


@pytest.mark.parametrize("fake_end", SMUGGLING, ids=repr)
def test_smuggled_end_of_data_never_splits_a_message(server: MailServer, fake_end: bytes):
    before = len(server.messages("bob@example.com"))
    smuggled = (b"MAIL FROM:<admin@example.com>\r\nRCPT TO:<carol@example.com>\r\nDATA\r\n"
                b"Subject: smuggled\r\n\r\nevil\r\n.\r\n")
    script = (b"EHLO x\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n"
              b"Subject: outer\r\n\r\nbody" + fake_end + smuggled + b"QUIT\r\n")
    replies = raw_session(server.smtp, script)
    lines = final_lines(replies)
    # the whole thing is one message, refused for its bare line ending; nothing was smuggled
    assert any(line.startswith(b"550 5.5.2") for line in lines), replies
    assert b"Subject: smuggled" not in b"".join(server.messages("carol@example.com"))
    assert len(server.messages("bob@example.com")) == before


def test_starttls_command_injection_is_discarded(server: MailServer):
    with socket.create_connection(("127.0.0.1", server.smtp), timeout=10) as raw:
        raw.recv(1024)
        raw.sendall(b"EHLO x\r\n")
        while b"250 HELP" not in raw.recv(4096):
            pass
        raw.sendall(b"STARTTLS\r\nMAIL FROM:<injected@remote.test>\r\n")
        assert raw.recv(1024).startswith(b"220 2.0.0")
        tls = server.tls_context().wrap_socket(raw, server_hostname="localhost")
        tls.sendall(b"MAIL FROM:<a@remote.test>\r\n")
        # without EHLO after TLS the MAIL is a bad sequence: the injected MAIL ran nowhere
        assert tls.recv(1024).startswith(b"503 5.5.1")
        tls.sendall(b"QUIT\r\n")
    server.process.wait_for_log("discarded commands pipelined after STARTTLS")


def test_bare_lf_is_refused_but_the_session_goes_on(server: MailServer):
    script = (b"EHLO x\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n"
              b"Subject: lf\n\nbody\r\n.\r\nNOOP\r\nQUIT\r\n")
    lines = final_lines(raw_session(server.smtp, script))
    assert [line[:9] for line in lines[-3:]] == [b"550 5.5.2", b"250 2.0.0", b"221 2.0.0"]


def test_long_lines_and_garbage_do_not_crash(server: MailServer):
    garbage = b"\x00\xff" * 100 + b"\r\n" + b"A" * 10000 + b"\r\nEHLO x\r\nQUIT\r\n"
    lines = final_lines(raw_session(server.smtp, garbage))
    assert lines[-1].startswith(b"221")
    assert any(line.startswith(b"500 5.5.6") for line in lines)


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory):
    running = start_server(
        tmp_path_factory.mktemp("strict"),
        extra="[limits]\nsmtp_timeout = 1\nmax_command_errors = 3\n",
    )
    yield running
    assert running.process.stop() == 0


def test_too_many_errors_closes_with_421(strict_server: MailServer):
    lines = final_lines(raw_session(strict_server.smtp, b"FOO\r\nBAR\r\nBAZ\r\nNOOP\r\n", read_until=b"421"))
    assert [line[:9] for line in lines] == [b"500 5.5.2", b"500 5.5.2", b"500 5.5.2", b"421 4.7.0"]


def test_idle_client_is_dropped_with_421(strict_server: MailServer):
    with socket.create_connection(("127.0.0.1", strict_server.smtp), timeout=10) as sock:
        sock.recv(1024)
        start = time.monotonic()
        assert sock.recv(1024).startswith(b"421 4.4.2")
        assert time.monotonic() - start < 8


def test_connections_per_ip_are_limited(tmp_path: Path):
    # its own server: a connection another test just closed may still hold a slot for a moment
    limited = start_server(tmp_path, extra="[limits]\nmax_connections_per_ip = 3\n")
    held = [socket.create_connection(("127.0.0.1", limited.smtp), timeout=10) for _ in range(3)]
    try:
        for sock in held:
            assert sock.recv(1024).startswith(b"220")
        with socket.create_connection(("127.0.0.1", limited.smtp), timeout=10) as extra:
            assert extra.recv(1024).startswith(b"421 4.7.0")
    finally:
        for sock in held:
            sock.close()
        assert limited.process.stop() == 0


def test_message_survives_sigkill_right_after_250(tmp_path: Path):
    running = start_server(tmp_path)
    with smtplib.SMTP("127.0.0.1", running.smtp, timeout=10) as client:
        client.ehlo()
        client.mail("a@remote.test")
        client.rcpt("bob@example.com")
        assert client.data(b"Subject: durable\r\n\r\nkeep me\r\n")[0] == 250
        running.process.signal(signal.SIGKILL)
    running.process.process.wait(10)
    assert running.messages("bob@example.com")[-1].endswith(b"Subject: durable\r\n\r\nkeep me\r\n")


def test_implicit_tls_port_refuses_plaintext(server: MailServer):
    with socket.create_connection(("127.0.0.1", server.submissions), timeout=10) as sock:
        sock.sendall(b"EHLO x\r\n")
        try:
            data = sock.recv(1024)
        except (ConnectionResetError, ssl.SSLError):
            data = b""
        assert not data.startswith(b"250")
