"""Port 25 connection screening over the wire: DNS lists with weights, allowed networks, pregreeting.

The DNS lists are zones of the tests' loopback DNS server, answering 127.0.0.x the way real lists do
(RFC 5782); clients connect from different loopback source addresses to be listed or not.
"""

from __future__ import annotations

import smtplib
import socket
from collections.abc import Iterator

import pytest

from tests.dnsserver import DNSServer
from tests.smtp.conftest import MailServer, serving, start_server

MESSAGE = b"From: alice@remote.test\r\nTo: bob@example.com\r\nSubject: hi\r\n\r\nHello.\r\n"


def listing(zone: str, answers: dict[str, str]) -> dict[tuple[str, str], list[str]]:
    """DNS records listing each client address (127.0.0.x) in ``zone`` with its answer."""
    return {(".".join(reversed(ip.split("."))) + "." + zone, "A"): [answer] for ip, answer in answers.items()}


@pytest.fixture(scope="module")
def dns() -> Iterator[DNSServer]:
    records = {
        **listing("bl.test", {"127.0.0.1": "127.0.0.2", "127.0.0.2": "127.0.0.2", "127.0.0.5": "127.0.0.2",
                              "127.0.0.6": "127.0.0.2"}),
        **listing("weak.test", {"127.0.0.3": "127.0.0.4"}),
        **listing("wl.test", {"127.0.0.5": "127.0.0.10", "127.0.0.6": "127.0.0.2"}),
    }
    server = DNSServer(records)
    yield server
    server.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, dns: DNSServer) -> Iterator[MailServer]:
    antispam = ('pregreet_delay = 0\ndnsbl = ["bl.test*2", "weak.test", "wl.test=127.0.0.[10..20]*-2"]\n'
                'dnsbl_threshold = 2\nallow = ["127.0.0.2/32"]\n')
    extra = f'[dns]\nnameservers = ["{dns.nameserver}"]\ntimeout = 2\n'
    yield from serving(start_server(tmp_path_factory.mktemp("screen"), extra=extra, antispam=antispam))


def talk(port: int, source: str, script: bytes = b"EHLO peer.test\r\nQUIT\r\n", wait: bool = True) -> list[bytes]:
    """Connect from ``source``, read the greeting (unless ``wait`` is False: talk first), send ``script``,
    and return every reply line until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0)) as sock:
        received = sock.recv(4096) if wait else b""
        sock.sendall(script)
        while chunk := sock.recv(65536):
            received += chunk
    return received.split(b"\r\n")[:-1]


def test_a_listed_client_is_refused_naming_the_list_and_must_quit(server: MailServer):
    lines = talk(server.smtp, "127.0.0.1")
    assert lines[0] == b"554 5.7.1 Service unavailable; client [127.0.0.1] blocked using bl.test"
    assert lines[1] == b"503 5.5.1 Bad sequence of commands"  # RFC 5321 3.1: 503 until QUIT
    assert lines[2].startswith(b"221 ")
    server.process.wait_for_log(r"connection refused\" client=127\.0\.0\.1 reason=dnsbl score=2 lists=bl\.test")


def test_an_allowed_network_is_never_screened(server: MailServer):
    with smtplib.SMTP("127.0.0.1", server.smtp, source_address=("127.0.0.2", 0)) as client:
        assert client.sendmail("alice@remote.test", ["bob@example.com"], MESSAGE) == {}


def test_weights_add_up_against_the_threshold(server: MailServer):
    assert talk(server.smtp, "127.0.0.3")[0].startswith(b"220 ")  # weak.test alone weighs 1 < 2
    assert talk(server.smtp, "127.0.0.5")[0].startswith(b"220 ")  # bl.test 2, allowlist wl.test -2
    refused = talk(server.smtp, "127.0.0.6")[0]  # wl.test's answer is outside its pattern: it does not count
    assert refused == b"554 5.7.1 Service unavailable; client [127.0.0.6] blocked using bl.test"


def test_an_unlisted_client_is_greeted_and_answers_are_cached_per_address(server: MailServer, dns: DNSServer):
    for _ in range(2):
        assert talk(server.smtp, "127.0.0.7")[0].startswith(b"220 ")
    asked = [name for name, _ in dns.queries if name.startswith("7.0.0.127.")]
    assert sorted(asked) == ["7.0.0.127.bl.test", "7.0.0.127.weak.test", "7.0.0.127.wl.test"]


def test_submission_is_never_screened(server: MailServer):
    assert talk(server.submission, "127.0.0.1")[0].startswith(b"220 ")


@pytest.fixture(scope="module")
def waiting_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailServer]:
    yield from serving(start_server(tmp_path_factory.mktemp("pregreet"), antispam="pregreet_delay = 0.5\n"))


def test_a_client_that_talks_before_the_greeting_is_refused(waiting_server: MailServer):
    lines = talk(waiting_server.smtp, "127.0.0.1", b"EHLO bot.test\r\nMAIL FROM:<a@bot.test>\r\nQUIT\r\n",
                 wait=False)
    assert lines[0] == b"554 5.5.1 Protocol error; client [127.0.0.1] sent data before the greeting"
    assert lines[1:3] == [b"503 5.5.1 Bad sequence of commands"] * 2
    assert lines[3].startswith(b"221 ")
    waiting_server.process.wait_for_log(r"connection refused\" client=127\.0\.0\.1 reason=pregreet")


def test_a_client_that_waits_for_the_greeting_is_served(waiting_server: MailServer):
    with smtplib.SMTP("127.0.0.1", waiting_server.smtp) as client:
        assert client.sendmail("alice@remote.test", ["bob@example.com"], MESSAGE) == {}
