"""poplib against the real ``pillarbox serve``: plain 110 with STLS, implicit TLS 995, and the semantics
a client sees over the wire. Each test has its own account in one shared server."""

from __future__ import annotations

import base64
import poplib
import socket
import ssl
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.pop3.helpers import PASSWORD, message, populate
from tests.server_process import ServerProcess, write_config
from tests.stores import open_at

ACCOUNTS = {  # address -> (messages, policy)
    "stls@example.com": (2, None), "implicit@example.com": (2, None), "plain@example.com": (1, None),
    "wrong@example.com": (1, None), "authplain@example.com": (2, None), "uidl@example.com": (3, None),
    "dele@example.com": (3, None), "drop@example.com": (2, None), "rset@example.com": (2, None),
    "inuse@example.com": (1, None), "policy@example.com": (3, 0), "top@example.com": (1, None),
}


class Server:
    def __init__(self, process: ServerProcess, data_dir: Path) -> None:
        self.process, self.data_dir = process, data_dir
        self.cert = data_dir / "tls" / "cert.pem"

    def context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.cert))
        context.check_hostname = False  # the certificate names mx.test, we dial 127.0.0.1... it has that too
        return context

    def plain(self) -> poplib.POP3:
        return poplib.POP3("127.0.0.1", self.process.port("pop3"), timeout=10)

    def stls(self) -> poplib.POP3:
        client = self.plain()
        client.stls(context=self.context())
        return client

    def tls(self) -> poplib.POP3_SSL:
        return poplib.POP3_SSL("127.0.0.1", self.process.port("pop3s"), context=self.context(), timeout=10)

    def login(self, user: str) -> poplib.POP3_SSL:
        client = self.tls()
        client.user(user)
        client.pass_(PASSWORD)
        return client

    def uids(self, user: str) -> list[int]:
        import asyncio

        async def read() -> list[int]:
            store = await open_at(self.data_dir)
            try:
                account = await store.get_account(user)
                inbox = await store.get_mailbox(account.id, "INBOX")
                return [e.uid for e in await store.list_messages(inbox.id)]
            finally:
                await store.close()

        return asyncio.run(read())


@contextmanager
def running_server(
    tmp: Path, mailboxes: Mapping[str, Sequence[bytes]], policies: Mapping[str, int | None] | None = None
) -> Iterator[Server]:
    """A ``pillarbox serve`` with POP3 on 110 and 995 whose accounts hold ``mailboxes`` (with their POP3
    delete policies); stopped cleanly after."""
    config = write_config(tmp, services=("pop3", "pop3s"))
    for address, messages in mailboxes.items():
        populate(tmp / "data", messages, address=address, policy=(policies or {}).get(address))
    process = ServerProcess(config)
    try:
        yield Server(process, tmp / "data")
    finally:
        assert process.stop() == 0
        assert "Traceback" not in process.log(), process.log()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    mailboxes = {address: [message(n) for n in range(1, count + 1)] for address, (count, _) in ACCOUNTS.items()}
    policies = {address: policy for address, (_, policy) in ACCOUNTS.items()}
    with running_server(tmp_path_factory.mktemp("pop3wire"), mailboxes, policies) as running:
        yield running


def test_plain_port_with_stls_then_login_and_retr(server: Server):
    client = server.plain()
    before = client.capa()
    assert "STLS" in before and "USER" not in before and "SASL" not in before
    client.stls(context=server.context())
    capa = client.capa()
    assert "USER" in capa and capa["SASL"] == ["SCRAM-SHA-256", "PLAIN", "LOGIN"] and "STLS" not in capa
    client.user("stls@example.com")
    client.pass_(PASSWORD)
    assert client.stat() == (2, 332)
    response, lines, octets = client.retr(1)
    assert response == b"+OK 166 octets"
    assert b"\r\n".join(lines) + b"\r\n" == message(1) and octets == 166
    assert client.quit().startswith(b"+OK")


def test_implicit_tls_port(server: Server):
    client = server.login("implicit@example.com")
    assert client.list()[1] == [b"1 166", b"2 166"]
    assert client.capa()["EXPIRE"] == ["NEVER"]
    client.quit()


def test_user_and_pass_refused_before_stls(server: Server):
    client = server.plain()
    with pytest.raises(poplib.error_proto, match="plaintext authentication is not allowed"):
        client.user("plain@example.com")
    with pytest.raises(poplib.error_proto, match=r"USER|plaintext"):
        client.pass_(PASSWORD)
    client.quit()


def test_wrong_password_gets_auth_code(server: Server):
    client = server.tls()
    client.user("wrong@example.com")
    with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\]"):
        client.pass_("not the password")
    client.quit()
    server.process.wait_for_log(r"login failed.*wrong@example.com")


def test_auth_plain_raw_commands(server: Server):
    client = server.tls()
    token = base64.b64encode(f"\0authplain@example.com\0{PASSWORD}".encode()).decode()
    assert client._shortcmd(f"AUTH PLAIN {token}").startswith(b"+OK maildrop locked and ready, 2 messages")
    assert client.stat()[0] == 2
    client.quit()


def test_uidl_is_stable_across_sessions(server: Server):
    client = server.login("uidl@example.com")
    first = client.uidl()[1]
    client.dele(2)
    client.quit()
    client = server.login("uidl@example.com")
    second = client.uidl()[1]
    client.quit()
    assert len(first) == 3 and len(second) == 2
    ids = {line.split()[1] for line in first}
    assert {line.split()[1] for line in second} == ids - {first[1].split()[1]}
    assert all(1 <= len(i) <= 70 and all(0x21 <= c <= 0x7E for c in i) for i in ids)


def test_dele_then_quit_deletes(server: Server):
    client = server.login("dele@example.com")
    client.dele(1)
    client.dele(3)
    assert client.quit() == b"+OK mx.test closing connection, 2 messages deleted"
    assert server.uids("dele@example.com") == [2]


def test_dele_then_dropped_connection_deletes_nothing(server: Server):
    client = server.login("drop@example.com")
    client.dele(1)
    client.sock.shutdown(socket.SHUT_RDWR)
    client.sock.close()
    server.process.wait_for_log(r"pop3 session.*drop@example.com.*end=dropped")
    assert server.uids("drop@example.com") == [1, 2]


def test_rset_undeletes(server: Server):
    client = server.login("rset@example.com")
    client.dele(1)
    assert client.stat() == (1, 166)
    assert client.rset().startswith(b"+OK")
    assert client.stat() == (2, 332)
    client.quit()
    assert server.uids("rset@example.com") == [1, 2]


def test_second_session_gets_in_use(server: Server):
    first = server.login("inuse@example.com")
    second = server.tls()
    second.user("inuse@example.com")
    with pytest.raises(poplib.error_proto, match=r"\[IN-USE\]"):
        second.pass_(PASSWORD)
    first.quit()
    second.user("inuse@example.com")
    second.pass_(PASSWORD)  # the lock went with the first session
    second.quit()


def test_delete_after_download_policy(server: Server):
    client = server.login("policy@example.com")
    assert client.capa()["EXPIRE"] == ["0"]
    client.retr(1)
    client.retr(3)
    client.top(2, 0)
    assert client.quit() == b"+OK mx.test closing connection, 2 messages deleted"
    assert server.uids("policy@example.com") == [2]


def test_top(server: Server):
    client = server.login("top@example.com")
    _response, lines, _ = client.top(1, 1)
    assert lines == message(1).split(b"\r\n")[:6]
    client.quit()
