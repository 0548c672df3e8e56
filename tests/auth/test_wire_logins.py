"""Logins attacked from outside, on a real server over loopback (the "Safe to expose" reports): no
authentication before TLS, no lock-out of the owner by strangers, no more guesses than the limit,
no telling a locked address or an unknown user apart."""

from __future__ import annotations

import re
import smtplib
from collections.abc import Iterator
from pathlib import Path

import pytest

from pillarbox.pop3 import replies as pop3_replies
from pillarbox.smtp import replies as smtp_replies
from tests.auth.wire import (
    LineClient,
    b64,
    imap_login,
    in_parallel,
    plain,
    pop3_auth_plain,
    pop3_login,
    smtp_auth_plain,
)
from tests.server_process import ServerProcess, write_config
from tests.smtp.conftest import NO_POLICY, PASSWORD, populate

SERVICES = ("submission", "submissions", "imap", "imaps", "pop3", "pop3s")
USER = "bob@example.com"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("logins")
    config = write_config(tmp, services=SERVICES, extra=NO_POLICY)
    populate(tmp / "data")
    process = ServerProcess(config)
    yield process
    assert process.stop() == 0
    assert "Traceback" not in process.log()


def log_lines(server: ServerProcess, message: str, ip: str) -> int:
    return len(re.findall(rf'msg="{message}" protocol=\w+ ip={re.escape(ip)} ', server.log()))


# -- 1. nothing before TLS ------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [
    f"a AUTHENTICATE PLAIN {plain(USER, PASSWORD)}",  # SASL-IR: the password is already on the wire
    "a AUTHENTICATE PLAIN",
    f"a AUTHENTICATE LOGIN {b64(USER)}",
    "a AUTHENTICATE LOGIN",
    f"a AUTHENTICATE SCRAM-SHA-256 {b64('n,,n=' + USER + ',r=abcdefgh')}",
    "a AUTHENTICATE SCRAM-SHA-256",
    "a AUTHENTICATE X-UNKNOWN",
    f'a LOGIN {USER} "{PASSWORD}"',
])
def test_imap_refuses_every_authentication_before_starttls(server: ServerProcess, command: str):
    with LineClient(server.port("imap"), tls=False) as client:
        capabilities = client.command("c CAPABILITY")[0]
        assert "LOGINDISABLED" in capabilities and "AUTH=" not in capabilities
        [reply] = client.command(command)  # no "+" continuation: nothing more is read from the client
        assert reply.startswith("a NO [PRIVACYREQUIRED] ")
        assert client.command("b SELECT INBOX")[-1].startswith("b BAD")  # still not authenticated
    assert f"user={USER}" not in server.log()


@pytest.mark.parametrize("mechanism", [f"PLAIN {plain(USER, PASSWORD)}", "PLAIN", "LOGIN", "SCRAM-SHA-256"])
def test_submission_refuses_auth_before_starttls(server: ServerProcess, mechanism: str):
    with smtplib.SMTP("127.0.0.1", server.port("submission"), timeout=30) as client:
        client.ehlo()
        assert not client.has_extn("auth")
        refused = smtp_replies.ENCRYPTION_REQUIRED
        assert client.docmd("AUTH", mechanism) == (refused.code, f"{refused.enhanced} {refused.text}".encode())


@pytest.mark.parametrize("command", [f"AUTH PLAIN {plain(USER, PASSWORD)}", "AUTH PLAIN", "AUTH LOGIN",
                                     "AUTH SCRAM-SHA-256", "AUTH", f"USER {USER}"])
def test_pop3_refuses_every_authentication_before_stls(server: ServerProcess, command: str):
    with LineClient(server.port("pop3"), tls=False) as client:
        client.send("CAPA")
        capabilities = iter(client.line, ".")
        assert not [line for line in capabilities if line.startswith(("SASL", "USER"))]
        client.send(command)
        assert client.line() == pop3_replies.PLAINTEXT_REFUSED.to_bytes().decode().rstrip("\r\n")
        client.send("STAT")
        assert client.line().startswith("-ERR")


# -- 6. throttling that stops guessers, not the owner ---------------------------------------------------


def test_one_guess_from_each_of_many_addresses_does_not_lock_the_owner_out(server: ServerProcess):
    """31 strangers, one wrong password each: the owner's own network still logs in on every protocol."""
    assert imap_login(server.port("imaps"), "carol@example.com", PASSWORD).startswith("a OK")
    guesses = [lambda n=n: imap_login(server.port("imaps"), "carol@example.com", "wrong", f"127.0.{n}.1")
               for n in range(1, 32)]
    assert all(reply.startswith("a NO [AUTHENTICATIONFAILED]") for reply in in_parallel(guesses))
    assert imap_login(server.port("imaps"), "carol@example.com", PASSWORD).startswith("a OK")
    assert pop3_login(server.port("pop3s"), "carol@example.com", PASSWORD).startswith("+OK")
    assert smtp_auth_plain(server.port("submissions"), "carol@example.com", PASSWORD)[0] == 235


def test_parallel_connections_from_one_address_get_no_more_guesses_checked_than_the_limit(server: ServerProcess):
    """20 connections at once, three guesses each: 10 (limits.auth_failures_per_ip) are checked."""
    source = "127.0.0.50"

    def guess_three_times() -> list[str]:
        with LineClient(server.port("imaps"), source) as client:
            return [client.command(f'a{n} LOGIN dave@example.com "wrong{n}"')[-1] for n in range(3)]

    replies = [reply for replies in in_parallel([guess_three_times] * 20) for reply in replies]
    assert all(re.match(r"a\d NO \[AUTHENTICATIONFAILED\] Authentication failed$", reply) for reply in replies)
    assert log_lines(server, "login failed", source) == 10
    assert log_lines(server, "login refused: too many failures", source) == 50


def test_a_locked_address_is_answered_exactly_like_a_wrong_password(server: ServerProcess):
    locked, other = "127.0.0.60", "127.0.0.61"
    in_parallel([lambda: imap_login(server.port("imaps"), USER, "wrong", locked)] * 10)
    ports = server.port("imaps"), server.port("pop3s"), server.port("submissions")

    def answers(password: str, source: str) -> list[object]:
        return in_parallel([lambda: imap_login(ports[0], USER, password, source),
                            lambda: pop3_login(ports[1], USER, password, source),
                            lambda: pop3_auth_plain(ports[1], USER, password, source),
                            lambda: smtp_auth_plain(ports[2], USER, password, source)])

    assert answers(PASSWORD, locked) == answers("wrong", other)
    assert answers(PASSWORD, other)[0].startswith("a OK")


def test_an_untrusted_network_waits_but_the_owner_gets_in(tmp_path: Path):
    """Past auth.account_failures, an address the account never logged in from waits before its check
    (the delay is configured tiny here) and the right password still works from there."""
    config = write_config(tmp_path, services=("imaps",), extra=NO_POLICY + (
        "[auth]\nfailure_delay = 0.01\naccount_failures = 3\naccount_delay = 0.01\nmax_account_delay = 0.05\n"))
    populate(tmp_path / "data")
    process = ServerProcess(config)
    try:
        in_parallel([lambda n=n: imap_login(process.port("imaps"), USER, "wrong", f"127.0.{n}.7") for n in range(6)])
        assert imap_login(process.port("imaps"), USER, PASSWORD, "127.0.200.1").startswith("a OK")
        assert 'msg="login delayed: account under attack" protocol=imap ip=127.0.200.1' in process.log()
    finally:
        process.kill()
