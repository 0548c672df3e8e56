"""Real POP3 clients from Debian against the real server: fetchmail (110 + STLS, 995) and curl.

These binaries are part of the test environment (scripts/test.sh installs them); a missing one is a
broken environment, so the test fails saying which package to install instead of skipping quietly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pop3.helpers import PASSWORD, message
from tests.pop3.test_pop3_wire import Server, running_server

ACCOUNTS = {"fetch-keep@example.com": 3, "fetch-delete@example.com": 2, "curl@example.com": 2}


def require(binary: str, package: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.fail(f"{binary} is not installed: apt-get install -y {package}")
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    mailboxes = {address: [message(n) for n in range(1, count + 1)] for address, count in ACCOUNTS.items()}
    with running_server(tmp_path_factory.mktemp("pop3clients"), mailboxes) as running:
        yield running


def fetchmail(server: Server, home: Path, user: str, *, implicit_tls: bool, keep: bool) -> tuple[int, str, Path]:
    binary = require("fetchmail", "fetchmail")
    home.mkdir(exist_ok=True)
    mbox = home / "mbox"
    port = server.process.port("pop3s" if implicit_tls else "pop3")
    # Without "ssl", "sslproto TLS1.2+" makes fetchmail use STLS and refuse to go on without it;
    # fetchmail ignores IP SANs, so the name checked is the certificate's (the config hostname).
    tls = "ssl" if implicit_tls else ""
    rc = home / "fetchmailrc"
    rc.write_text(
        f'set idfile "{home}/fetchids"\nset no bouncemail\n'
        f"poll 127.0.0.1 service {port} protocol POP3 uidl auth password:\n"
        f'  user "{user}" there with password "{PASSWORD}" is "root" here\n'
        f'  {tls} sslproto "TLS1.2+" sslcertck sslcertfile "{server.cert}" sslcommonname "mx.test"\n'
        f'  {"keep" if keep else "nokeep"} mda "cat >> {mbox}"\n'
    )
    rc.chmod(0o600)
    env = {**os.environ, "HOME": str(home), "FETCHMAILHOME": str(home)}
    result = subprocess.run([binary, "-f", str(rc), "-v", "--nosyslog"], capture_output=True, text=True,
                            env=env, timeout=60)
    return result.returncode, result.stdout + result.stderr, mbox


def test_fetchmail_over_stls_keeps_mail_and_remembers_uidls(server: Server, tmp_path: Path):
    user = "fetch-keep@example.com"
    code, output, mbox = fetchmail(server, tmp_path / "home", user, implicit_tls=False, keep=True)
    assert code == 0, output
    assert "STLS" in output
    assert mbox.read_bytes().count(b"Subject: test") == 3
    fetched = mbox.read_bytes().replace(b"\r\n", b"\n")
    for n in (1, 2, 3):  # every message whole, its dot lines unstuffed exactly
        assert message(n).replace(b"\r\n", b"\n") in fetched
    assert server.uids(user) == [1, 2, 3]
    code, output, mbox = fetchmail(server, tmp_path / "home", user, implicit_tls=False, keep=True)
    assert code == 1, output  # 1: no new mail (every UIDL already seen)
    assert mbox.read_bytes().count(b"Subject: test") == 3


def test_fetchmail_over_implicit_tls_deletes_what_it_fetched(server: Server, tmp_path: Path):
    user = "fetch-delete@example.com"
    code, output, mbox = fetchmail(server, tmp_path / "home", user, implicit_tls=True, keep=False)
    assert code == 0, output
    assert mbox.read_bytes().count(b"Subject: test") == 2
    assert server.uids(user) == []


def curl(server: Server, *args: str) -> subprocess.CompletedProcess[bytes]:
    binary = require("curl", "curl")
    return subprocess.run([binary, "--silent", "--show-error", "--cacert", str(server.cert),
                           "-u", f"curl@example.com:{PASSWORD}", *args], capture_output=True, timeout=60)


def test_curl_pop3s_retrieves_message_one_byte_exact(server: Server):
    result = curl(server, f"pop3s://127.0.0.1:{server.process.port('pop3s')}/1")
    assert result.returncode == 0, result.stderr
    assert result.stdout == message(1)


def test_curl_pop3_with_required_stls_lists(server: Server):
    result = curl(server, "--ssl-reqd", f"pop3://127.0.0.1:{server.process.port('pop3')}/")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"1 166\r\n2 166\r\n"


def test_curl_without_tls_cannot_log_in(server: Server):
    result = curl(server, f"pop3://127.0.0.1:{server.process.port('pop3')}/1")
    assert result.returncode != 0
