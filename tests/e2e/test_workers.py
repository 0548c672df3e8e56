"""``workers = 2``: two server processes on the same sockets, one store, one queue runner.

The kernel gives each connection to whichever process accepts it first, so these tests make enough
connections at once that both processes serve some, then check what a user sees: every message
stored once, IMAP IDLE told of deliveries made by the other process, mail submitted to any process
relayed at once (the worker wakes the primary's queue runner), a dead worker replaced, and SIGTERM
stopping them all.
"""

from __future__ import annotations

import imaplib
import os
import poplib
import re
import signal
import smtplib
import socket
import ssl
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.outbound.smtpsink import SMTPSink
from tests.server_process import ServerProcess, pillarbox, stored_messages, write_config
from tests.stores import fetch_value, run_at

PASSWORD = "worker-password"
CONNECTIONS = 16  # below max_connections_per_ip (20), which counts for both processes together


def _message(n: int, author: str = "a@remote.test") -> bytes:
    return f"From: {author}\r\nTo: bob@example.com\r\nSubject: m{n}\r\n\r\nbody {n}\r\n".encode()


def _send(port: int, n: int) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.sendmail("a@remote.test", ["bob@example.com"], _message(n))


def _send_over_held_connections(port: int, count: int) -> None:
    """``count`` messages over CONNECTIONS connections opened first and held open together, so both
    processes get some (the one with fewer accepts the next) however loaded the machine is."""
    clients = [smtplib.SMTP("127.0.0.1", port, timeout=30) for _ in range(CONNECTIONS)]
    try:
        for n in range(count):
            clients[n % CONNECTIONS].sendmail("a@remote.test", ["bob@example.com"], _message(n))
    finally:
        for client in clients:
            client.quit()


def _serving_processes(server: ServerProcess) -> set[str]:
    return set(re.findall(r'proc=(\d+) msg="?transaction', server.log()))


def _worker_pid(server: ServerProcess) -> int:
    line = server.wait_for_log(r'msg="worker started" worker=1 pid=\d+')
    return int(line.rpartition("pid=")[2])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


@pytest.fixture
def sink():
    relay = SMTPSink()
    yield relay
    relay.close()


@pytest.fixture
def server(tmp_path: Path, sink: SMTPSink):
    relay = f'[outbound]\nrelay = "127.0.0.1:{sink.port}"\nrelay_tls = "none"\n\n'
    config = write_config(tmp_path, ("smtp", "submission", "imap", "http"),
                          extra=f"[policy]\ncheck = false\n\n{relay}[queue]\npoll_interval = 600\n", workers=2)
    pillarbox(config, "domain", "add", "example.com")
    pillarbox(config, "user", "add", "bob@example.com", "--password-stdin", input=PASSWORD.encode() + b"\n")
    process = ServerProcess(config)
    process.wait_for_log(r'proc=1 msg="worker ready"')
    yield process
    process.kill()


def test_both_processes_serve_and_every_message_is_stored_once(server: ServerProcess, tmp_path: Path):
    _send_over_held_connections(server.port("smtp"), CONNECTIONS * 2)
    stored = stored_messages(tmp_path / "data", "bob@example.com")
    subjects = sorted(int(m.split(b"Subject: m")[1].split(b"\r\n")[0]) for m in stored)
    assert subjects == list(range(CONNECTIONS * 2))
    assert _serving_processes(server) == {"0", "1"}


def test_metrics_count_what_every_process_did(server: ServerProcess):
    _send_over_held_connections(server.port("smtp"), CONNECTIONS * 2)
    assert _serving_processes(server) == {"0", "1"}
    pattern = re.compile(r'^pillarbox_smtp_messages_total\{result="accepted"\} (\d+)$', re.MULTILINE)
    deadline, counted = time.monotonic() + 30, None
    while time.monotonic() < deadline:  # a worker writes its counters once a second
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port('http')}/metrics", timeout=10) as response:
            found = pattern.search(response.read().decode())
        counted = int(found.group(1)) if found else None
        if counted == CONNECTIONS * 2:
            break
        time.sleep(0.2)
    assert counted == CONNECTIONS * 2


def test_idle_hears_of_deliveries_made_by_either_process(server: ServerProcess):
    imap = imaplib.IMAP4("127.0.0.1", server.port("imap"))
    imap.starttls(ssl_context=ssl._create_unverified_context())
    imap.login("bob@example.com", PASSWORD)
    imap.select("INBOX")
    tag = imap._new_tag().decode()
    imap.send(f"{tag} IDLE\r\n".encode())
    assert imap.readline().startswith(b"+")
    _send_over_held_connections(server.port("smtp"), 16)
    assert _serving_processes(server) == {"0", "1"}
    highest = 0
    imap.sock.settimeout(30)
    while highest < 16:
        found = re.match(rb"\* (\d+) EXISTS", imap.readline())
        if found:
            highest = int(found.group(1))
    imap.send(b"DONE\r\n")
    imap.logout()


def test_mail_submitted_to_any_process_is_relayed_without_waiting_for_a_poll(server: ServerProcess, sink: SMTPSink):
    def submit(n: int) -> None:
        with smtplib.SMTP("127.0.0.1", server.port("submission"), timeout=30) as client:
            client.starttls(context=ssl._create_unverified_context())
            client.login("bob@example.com", PASSWORD)
            client.sendmail("bob@example.com", [f"x{n}@remote.test"], _message(n, author="bob@example.com"))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(submit, range(16)))
    # the queue polls every 600 s here: only the pokes (SIGUSR1 from the worker) explain a prompt relay
    deadline = time.monotonic() + 60
    while len(sink.messages) < 16 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(r for m in sink.messages for r in m.recipients) == sorted(f"x{n}@remote.test" for n in range(16))


def test_a_dead_worker_is_replaced_and_sigterm_stops_every_process(server: ServerProcess, tmp_path: Path):
    first = _worker_pid(server)
    os.kill(first, signal.SIGKILL)
    server.wait_for_log(r'msg="worker exited; starting it again" worker=1')
    line = server.wait_for_log(rf'msg="worker started" worker=1 pid=(?!{first}\b)\d+')
    second = int(line.rpartition("pid=")[2])
    server.wait_for_log(r'proc=1 msg="worker ready"')
    _send(server.port("smtp"), 1)
    assert server.stop() == 0
    assert not _alive(second)
    assert len(stored_messages(tmp_path / "data", "bob@example.com")) == 1


def test_the_primary_indexes_what_every_process_delivered_once_mail_pauses(server: ServerProcess, tmp_path: Path):
    _send_over_held_connections(server.port("smtp"), CONNECTIONS * 2)
    assert _serving_processes(server) == {"0", "1"}
    # no SEARCH asks for it: the background indexer fills the index about half a second after the burst
    server.wait_for_log(r'msg="full-text index caught up" indexed=\d+', timeout=30)
    assert run_at(tmp_path / "data", _backlog) == 0

    async def hits(store: Any) -> int:  # read without indexing anything first (search_text would)
        words = "SELECT count(*) FROM message_words WHERE message_words MATCH 'body : \"body 1\" *'"
        return int(await fetch_value(store, words, "SELECT count(*) FROM message_text WHERE body LIKE '%body 1%'"))
    assert run_at(tmp_path / "data", hits) == 11  # "body 1", "body 10" ... "body 19"


async def _backlog(store: Any) -> int:
    return int((await store.index_backlog()).count)


def test_login_failures_count_across_processes(tmp_path: Path):
    """Two server processes on one data_dir (as workers are, but each on a port of its own, so the test
    chooses which one a client reaches): wrong passwords tried on either add up, and the third
    locks the IP out on both."""
    limits = "[policy]\ncheck = false\n\n[limits]\nauth_failures_per_ip = 3\n"
    first = write_config(tmp_path, ("submission",), extra=limits)
    second = tmp_path / "second.toml"
    second.write_text(first.read_text())  # same data_dir, another ephemeral port
    pillarbox(first, "domain", "add", "example.com")
    pillarbox(first, "user", "add", "bob@example.com", "--password-stdin", input=PASSWORD.encode() + b"\n")
    servers = [ServerProcess(first), ServerProcess(second, shares_data_dir=True)]

    def refused(server: ServerProcess, password: str) -> None:
        with smtplib.SMTP("127.0.0.1", server.port("submission"), timeout=30) as client:
            client.starttls(context=ssl._create_unverified_context())
            client.ehlo()
            client.user, client.password = "bob@example.com", password
            with pytest.raises(smtplib.SMTPAuthenticationError):
                client.auth("PLAIN", client.auth_plain)  # one attempt (login() would try each mechanism)

    try:
        for server in (servers[0], servers[1], servers[0]):
            refused(server, "wrong")
        for server in servers:
            refused(server, PASSWORD)  # the right password, but the IP is locked out
        assert [len(re.findall(r'msg="login failed"', s.log())) for s in servers] == [2, 1]
        assert [len(re.findall(r'msg="login refused: too many failures"', s.log())) for s in servers] == [1, 1]
    finally:
        for server in servers:
            server.kill()


def test_the_connection_limit_per_ip_holds_for_all_processes_together(tmp_path: Path):
    limits = "[policy]\ncheck = false\n\n[limits]\nmax_connections_per_ip = 4\n"
    config = write_config(tmp_path, ("smtp",), extra=limits, workers=2)
    process = ServerProcess(config)
    held: list[socket.socket] = []
    try:
        process.wait_for_log(r'proc=1 msg="worker ready"')
        for _ in range(4):
            held.append(socket.create_connection(("127.0.0.1", process.port("smtp")), timeout=30))
            assert held[-1].recv(1024).startswith(b"220 ")
        extra = socket.create_connection(("127.0.0.1", process.port("smtp")), timeout=30)
        held.append(extra)
        assert extra.recv(1024).startswith(b"421 4.7.0")
    finally:
        for sock in held:
            sock.close()
        process.kill()


def test_pop3_maildrop_lock_holds_across_processes(tmp_path: Path):
    """RFC 1939 4: one POP3 session per maildrop, also when the second lands on another process."""
    first = write_config(tmp_path, ("pop3",))
    second = tmp_path / "second.toml"
    second.write_text(first.read_text())  # same data_dir, another ephemeral port
    pillarbox(first, "domain", "add", "example.com")
    pillarbox(first, "user", "add", "bob@example.com", "--password-stdin", input=PASSWORD.encode() + b"\n")
    servers = [ServerProcess(first), ServerProcess(second, shares_data_dir=True)]
    sessions = []
    try:
        for server in servers:
            client = poplib.POP3("127.0.0.1", server.port("pop3"), timeout=30)
            client.stls(context=ssl._create_unverified_context())
            client.user("bob@example.com")
            sessions.append(client)
        assert sessions[0].pass_(PASSWORD).startswith(b"+OK")
        with pytest.raises(poplib.error_proto, match="IN-USE"):
            sessions[1].pass_(PASSWORD)
        sessions[0].quit()  # releases the maildrop
        again = poplib.POP3("127.0.0.1", servers[1].port("pop3"), timeout=30)
        again.stls(context=ssl._create_unverified_context())
        again.user("bob@example.com")
        assert again.pass_(PASSWORD).startswith(b"+OK")
        again.quit()
    finally:
        for server in servers:
            server.kill()
