"""Greylisting (RFC 6647) with a fake clock against the real store, and once over the wire."""

from __future__ import annotations

import smtplib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from pillarbox.antispam.greylist import Greylist, client_network
from pillarbox.config import AntispamConfig
from tests import stores
from tests.smtp.conftest import MailServer, serving, start_server

SETTINGS = replace(AntispamConfig(), greylist=True, greylist_delay=300, greylist_retry_window=3600,
                   greylist_pass_count=2, greylist_max_age=10 * 86400)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_networks_are_a_slash_24_or_a_slash_64():
    assert client_network("192.0.2.77") == "192.0.2.0/24"
    assert client_network("::ffff:192.0.2.77") == "192.0.2.0/24"
    assert client_network("2001:db8:1:2:3::4") == "2001:db8:1:2::/64"


def with_greylist(
    tmp_path: Path, store_url: str | None, run, body: Callable[[Greylist, Clock], Awaitable[None]],
) -> None:
    """Run ``body`` with a greylist on a fresh store and a clock it can move."""
    async def main() -> None:
        store, clock = await stores.open_store(tmp_path / "data", store_url), Clock()
        try:
            await body(Greylist(store, SETTINGS, clock), clock)
        finally:
            await store.close()

    run(main())


@pytest.mark.parametrize("backend", stores.BACKENDS)
def test_first_sight_defers_until_the_delay_then_the_triplet_is_remembered(tmp_path: Path, store_url, run):
    async def body(greylist: Greylist, clock: Clock) -> None:
        assert await greylist.defer("192.0.2.1", "a@remote.test", "bob@example.com")
        clock.now += 299
        assert await greylist.defer("192.0.2.9", "a@remote.test", "bob@example.com")  # same /24, too early
        clock.now += 1
        assert not await greylist.defer("192.0.2.1", "a@remote.test", "bob@example.com")
        clock.now += 5 * 86400
        assert not await greylist.defer("192.0.2.1", "A@remote.test", "Bob@example.com")  # remembered
        assert await greylist.defer("192.0.2.1", "a@remote.test", "carol@example.com")  # another triplet
        assert await greylist.defer("198.51.100.1", "a@remote.test", "bob@example.com")  # another network

    with_greylist(tmp_path, store_url, run, body)


@pytest.mark.parametrize("backend", stores.BACKENDS)
def test_a_triplet_not_retried_in_time_starts_over_and_old_state_expires(tmp_path: Path, store_url, run):
    async def body(greylist: Greylist, clock: Clock) -> None:
        assert await greylist.defer("192.0.2.1", "", "bob@example.com")
        clock.now += 3601  # past the retry window: this is a first sight again
        assert await greylist.defer("192.0.2.1", "", "bob@example.com")
        clock.now += 300
        assert not await greylist.defer("192.0.2.1", "", "bob@example.com")
        clock.now += 10 * 86400 + 1
        assert await greylist.expire() >= 2  # the triplet and the network
        assert await greylist.defer("192.0.2.1", "", "bob@example.com")

    with_greylist(tmp_path, store_url, run, body)


@pytest.mark.parametrize("backend", stores.BACKENDS)
def test_a_network_that_passed_often_enough_skips_greylisting(tmp_path: Path, store_url, run):
    async def body(greylist: Greylist, clock: Clock) -> None:
        for sender in ("a@remote.test", "b@remote.test"):  # greylist_pass_count = 2
            assert await greylist.defer("192.0.2.1", sender, "bob@example.com")
            clock.now += 300
            assert not await greylist.defer("192.0.2.1", sender, "bob@example.com")
        assert not await greylist.defer("192.0.2.200", "new@elsewhere.test", "carol@example.com")

    with_greylist(tmp_path, store_url, run, body)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailServer]:
    antispam = "pregreet_delay = 0\ngreylist = true\ngreylist_delay = 0\n"
    yield from serving(start_server(tmp_path_factory.mktemp("greylist"), antispam=antispam))


def test_over_the_wire_the_first_attempt_gets_451_and_the_retry_is_accepted(server: MailServer):
    message = b"From: alice@remote.test\r\nSubject: hi\r\n\r\nHello.\r\n"
    with smtplib.SMTP("127.0.0.1", server.smtp) as client:
        client.ehlo()
        assert client.mail("alice@remote.test")[0] == 250
        assert client.rcpt("bob@example.com") == (451, b"4.7.1 Greylisted: please try again in 0 seconds")
        client.rset()
        assert client.sendmail("alice@remote.test", ["bob@example.com"], message) == {}
    assert server.messages("bob@example.com")[-1].endswith(message)
    with smtplib.SMTP("127.0.0.1", server.submission) as client:  # never on submission
        client.starttls(context=server.tls_context())
        client.login("carol@example.com", "correct horse battery")
        submitted = message.replace(b"alice@remote.test", b"carol@example.com")
        assert client.sendmail("carol@example.com", ["bob@example.com"], submitted) == {}
