"""ManageSieve on the wire (RFC 5804) against a real server: transcripts, and Debian's sieve-connect."""

from __future__ import annotations

import base64
import os
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pillarbox.auth.passwords import make_credentials
from pillarbox.store.sqlite.store import SQLiteStore
from tests.server_process import SERVICES, ServerProcess, write_config

PASSWORD = "correct horse battery"
USER = "bob@example.com"


def start(root: Path, extra: str = "") -> ServerProcess:
    import asyncio

    config = write_config(root, (*SERVICES, "managesieve"),
                          extra="[sieve]\nmax_script_size = 2000\nmax_scripts = 3\n" + extra)

    async def populate() -> None:
        store = SQLiteStore.open(root / "data")
        await store.add_domain("example.com")
        await store.add_account(USER, *make_credentials(PASSWORD))
        await store.add_account("eve@example.com", *make_credentials(PASSWORD))
        await store.close()

    asyncio.run(populate())
    return ServerProcess(config)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = start(tmp_path_factory.mktemp("managesieve"))
    yield process
    process.stop()
    assert "Traceback" not in process.log()


class Client:
    def __init__(self, server: ServerProcess) -> None:
        self.sock: socket.socket | ssl.SSLSocket = socket.create_connection(server.addresses["managesieve"], timeout=10)
        self.buffer = b""

    def read_until_status(self) -> bytes:
        """Everything up to and including the OK / NO / BYE line."""
        while True:
            for status in (b"OK", b"NO", b"BYE"):
                lines = self.buffer.split(b"\r\n")
                for index, line in enumerate(lines[:-1]):
                    if line.startswith(status) and (index == 0 or lines[index - 1].endswith(b"\r") or True):
                        end = len(b"\r\n".join(lines[: index + 1])) + 2
                        out, self.buffer = self.buffer[:end], self.buffer[end:]
                        return out
            data = self.sock.recv(65536)
            if not data:
                return self.buffer
            self.buffer += data

    def send(self, line: bytes) -> bytes:
        self.sock.sendall(line)
        return self.read_until_status()

    def starttls(self) -> bytes:
        assert self.send(b"STARTTLS\r\n").startswith(b"OK")
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        self.sock = context.wrap_socket(self.sock)
        return self.read_until_status()

    def login(self, user: str = USER, password: str = PASSWORD) -> bytes:
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        return self.send(f'AUTHENTICATE "PLAIN" "{token}"\r\n'.encode())


def test_greeting_refuses_authentication_before_tls(server: ServerProcess) -> None:
    client = Client(server)
    greeting = client.read_until_status()
    assert b'"IMPLEMENTATION" "Pillarbox"\r\n' in greeting and b'"SASL" ""\r\n' in greeting
    assert b'"STARTTLS"\r\n' in greeting and b'"SIEVE" "fileinto' in greeting and greeting.endswith(b"\r\n")
    token = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
    assert client.send(f'AUTHENTICATE "PLAIN" "{token}"\r\n'.encode()).startswith(b"NO (ENCRYPT-NEEDED)")
    assert client.send(b'LISTSCRIPTS\r\n').startswith(b"NO")
    capabilities = client.starttls()
    assert b'"SASL" "SCRAM-SHA-256 PLAIN' in capabilities and b'"STARTTLS"' not in capabilities
    assert capabilities.endswith(b"OK\r\n")


def test_a_session_transcript(server: ServerProcess) -> None:
    client = Client(server)
    client.read_until_status()
    client.starttls()
    assert client.login(password="wrong").startswith(b"NO")
    assert client.login() == b'OK "Logged in"\r\n'
    assert client.send(b'CAPABILITY\r\n').count(b'"OWNER" "bob@example.com"') == 1
    script = b'require "fileinto";\r\nif header :contains "subject" "x" { fileinto "X"; }\r\n'
    assert client.send(b'CHECKSCRIPT {%d+}\r\n%s\r\n' % (len(script), script)) == b"OK\r\n"
    assert client.send(b'CHECKSCRIPT "frob;"\r\n').startswith(b'NO "line 1: unknown command')
    refused = client.send(b'PUTSCRIPT "bad" "fileinto \\"x\\";"\r\n')  # the reason has quotes: a literal
    rest, client.buffer = client.buffer or client.sock.recv(4096), b""
    assert refused.startswith(b"NO {") and b'fileinto needs require "fileinto"\r\n' in rest
    assert client.send(b'PUTSCRIPT "main" {%d+}\r\n%s\r\n' % (len(script), script)) == b"OK\r\n"
    assert client.send(b'PUTSCRIPT "other" "keep;"\r\n') == b"OK\r\n"
    assert client.send(b'LISTSCRIPTS\r\n') == b'"main"\r\n"other"\r\nOK\r\n'
    assert client.send(b'SETACTIVE "main"\r\n') == b"OK\r\n"
    assert client.send(b'LISTSCRIPTS\r\n') == b'"main" ACTIVE\r\n"other"\r\nOK\r\n'
    assert client.send(b'GETSCRIPT "main"\r\n') == b"{%d}\r\n%s\r\nOK\r\n" % (len(script), script)
    assert client.send(b'GETSCRIPT "nope"\r\n').startswith(b"NO (NONEXISTENT)")
    assert client.send(b'DELETESCRIPT "main"\r\n').startswith(b"NO (ACTIVE)")
    assert client.send(b'RENAMESCRIPT "other" "main"\r\n').startswith(b"NO (ALREADYEXISTS)")
    assert client.send(b'RENAMESCRIPT "main" "renamed"\r\n') == b"OK\r\n"
    assert client.send(b'LISTSCRIPTS\r\n') == b'"other"\r\n"renamed" ACTIVE\r\nOK\r\n'
    assert client.send(b'HAVESPACE "x" 100\r\n') == b"OK\r\n"
    assert client.send(b'HAVESPACE "x" 5000\r\n').startswith(b"NO (QUOTA/MAXSIZE)")
    assert client.send(b'PUTSCRIPT "third" "keep;"\r\n') == b"OK\r\n"
    assert client.send(b'PUTSCRIPT "fourth" "keep;"\r\n').startswith(b"NO (QUOTA/MAXSCRIPTS)")
    assert client.send(b'PUTSCRIPT "pillarbox-forward" "keep;"\r\n').startswith(b'NO "script names starting')
    assert client.send(b'SETACTIVE ""\r\n') == b"OK\r\n"
    assert client.send(b'DELETESCRIPT "renamed"\r\n') == b"OK\r\n"
    assert client.send(b'NOOP "tag1"\r\n') == b'OK (TAG "tag1") "Done"\r\n'
    assert client.send(b'FROB\r\n').startswith(b"NO")
    assert client.send(b'UNAUTHENTICATE\r\n') == b"OK\r\n"
    assert client.send(b'LISTSCRIPTS\r\n').startswith(b"NO")
    assert client.send(b'LOGOUT\r\n').startswith(b"OK")


def test_scripts_are_per_account(server: ServerProcess) -> None:
    client = Client(server)
    client.read_until_status()
    client.starttls()
    client.login("eve@example.com")
    assert client.send(b'GETSCRIPT "other"\r\n').startswith(b"NO (NONEXISTENT)")


def test_huge_literal_is_refused(server: ServerProcess) -> None:
    client = Client(server)
    client.read_until_status()
    client.starttls()
    client.login()
    assert client.send(b'PUTSCRIPT "big" {99999999+}\r\n').startswith(b"BYE")


def test_sieve_connect_uploads_activates_and_downloads(server: ServerProcess, tmp_path: Path) -> None:
    if not Path("/usr/bin/sieve-connect").exists():
        pytest.skip("sieve-connect is not installed (scripts/test.sh installs it)")
    local = tmp_path / "filter.sieve"
    local.write_text('require ["fileinto"];\nif header :contains "List-Id" "dev" { fileinto "Dev"; }\n')
    host, port = server.addresses["managesieve"]

    def run(*action: str) -> str:
        read, write = os.pipe()
        os.write(write, (PASSWORD + "\n").encode())
        os.close(write)
        result = subprocess.run(
            ["sieve-connect", "--server", host, "--port", str(port), "--user", USER, "--passwordfd", str(read),
             "--notlsverify", "--authmech", "PLAIN", *action],
            capture_output=True, timeout=60, pass_fds=(read,), stdin=subprocess.DEVNULL,
        )
        os.close(read)
        assert result.returncode == 0, result.stderr.decode()
        return result.stdout.decode()

    run("--upload", "--localsieve", str(local), "--remotesieve", "dev")
    run("--activate", "--remotesieve", "dev")
    assert "dev" in run("--list")
    downloaded = tmp_path / "back.sieve"
    run("--download", "--remotesieve", "dev", "--localsieve", str(downloaded))
    assert downloaded.read_text() == local.read_text()


def test_the_login_throttle_is_imaps(tmp_path: Path) -> None:
    """Failed logins count as for IMAP (the one Authenticator): past the limit even the right password
    is refused, with the same NO as a wrong one."""
    process = start(tmp_path, "[limits]\nauth_failures_per_ip = 2\n")
    try:
        client = Client(process)
        client.read_until_status()
        client.starttls()
        for _ in range(2):
            assert client.login(password="wrong").startswith(b"NO")
        assert client.login() == b'NO "authentication failed"\r\n'
        assert 'msg="login refused: too many failures" protocol=managesieve' in process.log()
    finally:
        process.stop()
