"""PostgreSQL goes away under a running server and comes back: the protocols answer with their
temporary failures (SMTP 451 4.3.0, IMAP NO [UNAVAILABLE], POP3 -ERR [SYS/TEMP]), /healthz says so,
nothing is acknowledged that was not committed, and the server recovers by itself. Under load too:
several SMTP connections keep sending while PostgreSQL stops (fast or immediate, a crash) and returns;
every 250 is in the store exactly once afterwards.

And at start: a refused login or an unreachable server is one line and exit status 1.
"""

from __future__ import annotations

import asyncio
import imaplib
import itertools
import poplib
import re
import smtplib
import ssl
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiosmtplib
import pytest

from pillarbox.auth.passwords import make_credentials
from pillarbox.store.postgres.store import PostgresStore
from pillarbox.store.records import DeliveryTarget
from tests import pg_cluster
from tests.server_process import ServerProcess, eventually, pillarbox, write_config
from tests.smtp.conftest import NO_POLICY, PASSWORD

pytestmark = pytest.mark.slow
MESSAGE = b"From: alice@example.org\r\nTo: bob@example.com\r\nSubject: hello\r\n\r\nHi Bob.\r\n"


@pytest.fixture
def cluster() -> Iterator[pg_cluster.Cluster]:
    """A PostgreSQL server of this test's own: it is stopped and started again."""
    if pg_cluster.binaries() is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) are not installed: apt-get install postgresql")
    with pg_cluster.running_cluster() as running:
        yield running


def _populate(url: str) -> None:
    async def fill() -> None:
        store = await PostgresStore.open(url)
        try:
            await store.add_domain("example.com")
            bob = await store.add_account("bob@example.com", *make_credentials(PASSWORD))
            inbox = await store.get_mailbox(bob.id, "INBOX")
            assert inbox is not None
            await store.deliver(MESSAGE, [DeliveryTarget(inbox.id)])
        finally:
            await store.close()

    asyncio.run(fill())


def _health(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _send(port: int) -> tuple[int, bytes]:
    """One SMTP transaction to bob; the reply that ended it."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo("client.test")
        client.mail("alice@example.org")
        code, text = client.rcpt("bob@example.com")
        if code != 250:
            return code, text
        return client.data(MESSAGE)


def test_the_store_goes_away_and_comes_back(tmp_path: Path, cluster: pg_cluster.Cluster):
    url = cluster.url("postgres")
    _populate(url)
    config = write_config(tmp_path, services=("smtp", "imap", "pop3", "http"), extra=NO_POLICY, store_url=url)
    server = ServerProcess(config)
    try:
        imap, pop = _logged_in(tmp_path, server)
        assert _send(server.port("smtp"))[0] == 250
        assert _health(server.port("http")) == 200

        cluster.stop("fast")
        assert _send(server.port("smtp")) == (451, b"4.3.0 Local error in processing, try again later")
        _assert_unavailable(server, imap, pop)

        cluster.resume()
        assert eventually(lambda: _health(server.port("http")) == 200)
        assert _send(server.port("smtp"))[0] == 250
        status, answer = imap.status("INBOX", "(MESSAGES)")
        assert status == "OK" and b"(MESSAGES 3)" in answer[0]  # the refused message was not stored
        assert pop.retr(1)[1][-1] == b"Hi Bob."
        pop.quit()
        imap.logout()
    finally:
        assert server.stop() == 0
    assert "Traceback" not in server.log()
    assert "store unavailable" in server.log()


@pytest.mark.parametrize("fault", ["wrong password", "nobody listens"])
def test_serve_refuses_to_start_without_its_store(tmp_path: Path, request: pytest.FixtureRequest, fault: str):
    if fault == "wrong password":
        url = request.getfixturevalue("cluster").url("postgres", password="wrong")
    else:
        url = "postgresql://u:p@127.0.0.1:9/db"
    config = write_config(tmp_path, services=("http",), store_url=url)
    result = pillarbox(config, "serve", check=False)
    assert result.returncode == 1
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pillarbox: error: PostgreSQL at "), lines
    assert ("login refused" if fault == "wrong password" else "cannot reach the server") in lines[0]
    assert "wrong" not in lines[0]  # the password stays out of logs


def test_a_store_url_without_a_database_is_a_config_error(tmp_path: Path):
    config = write_config(tmp_path, services=("http",), store_url="postgresql://u@127.0.0.1:5432/")
    result = pillarbox(config, "serve", check=False)
    assert result.returncode == 1
    assert result.stderr.decode().strip().endswith(
        "store.url: expected postgresql://user:password@host:port/database (a host and a database name)")



SENDERS = 8


@dataclass
class Outcomes:
    """What each SMTP transaction of the load ended with, by the Message-ID it carried."""

    accepted: set[str] = field(default_factory=set)
    deferred: set[str] = field(default_factory=set)  # 4xx
    refused: dict[str, int] = field(default_factory=dict)  # 5xx: never acceptable for an outage
    dropped: set[str] = field(default_factory=set)  # the connection went away before a reply


async def _sender(port: int, number: int, outcomes: Outcomes, stop: asyncio.Event) -> None:
    """Send to bob back to back on one connection, reconnecting whenever it fails."""
    client: aiosmtplib.SMTP | None = None
    for sequence in itertools.count():
        if stop.is_set():
            break
        message_id = f"<load-{number}-{sequence}@example.org>"
        raw = MESSAGE.replace(b"Subject:", f"Message-ID: {message_id}\r\nSubject:".encode())
        try:
            if client is None:
                client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=30, start_tls=False)
                await client.connect()
            await client.sendmail("alice@example.org", ["bob@example.com"], raw)
            outcomes.accepted.add(message_id)
        except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPResponseException) as exc:
            code = exc.recipients[0].code if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) else exc.code
            if 400 <= code < 500:
                outcomes.deferred.add(message_id)
            else:
                outcomes.refused[message_id] = code
            client = await _drop(client)
        except (aiosmtplib.SMTPException, OSError):
            outcomes.dropped.add(message_id)
            client = await _drop(client)
    await _drop(client)


async def _drop(client: aiosmtplib.SMTP | None) -> None:
    if client is not None:
        client.close()
    return None


async def _until(check: Callable[[], bool], timeout: float = 60) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.05)


def _stored_message_ids(url: str) -> Counter[str]:
    async def read() -> Counter[str]:
        store = await PostgresStore.open(url)
        try:
            bob = await store.get_account("bob@example.com")
            assert bob is not None
            inbox = await store.get_mailbox(bob.id, "INBOX")
            assert inbox is not None
            bodies = await store.read_by_uids(inbox.id, [e.uid for e in await store.list_messages(inbox.id)])
            return Counter(m.group(1).decode() for body in bodies.values()
                           if (m := re.search(rb"Message-ID: (<[^>]+>)", body)))
        finally:
            await store.close()

    return asyncio.run(read())


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_every_250_under_load_is_in_the_store_after_an_outage(
    tmp_path: Path, cluster: pg_cluster.Cluster, mode: str,
):
    """SENDERS connections send to bob without pause; PostgreSQL stops (``pg_ctl stop -m mode``) and comes
    back mid-run. Every message answered 250 is stored exactly once; every other one got a 4xx or lost
    its connection, never a 5xx; IMAP, POP3 and /healthz say the store is away while it is."""
    url = cluster.url("postgres")
    _populate(url)
    config = write_config(tmp_path, services=("smtp", "imap", "pop3", "http"), extra=NO_POLICY, store_url=url)
    server = ServerProcess(config)
    outcomes = Outcomes()
    try:
        imap, pop = _logged_in(tmp_path, server)

        async def run() -> None:
            stop = asyncio.Event()
            senders = [asyncio.create_task(_sender(server.port("smtp"), n, outcomes, stop)) for n in range(SENDERS)]
            await _until(lambda: len(outcomes.accepted) >= 50)
            await asyncio.to_thread(cluster.stop, mode)
            await _until(lambda: len(outcomes.deferred) >= SENDERS)
            await asyncio.to_thread(_assert_unavailable, server, imap, pop)
            accepted_before = len(outcomes.accepted)
            await asyncio.to_thread(cluster.resume)
            await _until(lambda: len(outcomes.accepted) >= accepted_before + 50)
            stop.set()
            await asyncio.gather(*senders)

        asyncio.run(run())
        assert eventually(lambda: _health(server.port("http")) == 200)
        pop.quit()
        imap.logout()
    finally:
        assert server.stop() == 0
    assert not outcomes.refused
    stored = _stored_message_ids(url)
    assert {m: stored[m] for m in outcomes.accepted if stored[m] != 1} == {}
    assert set(stored) <= outcomes.accepted | outcomes.dropped | outcomes.deferred
    log = server.log()
    assert "Traceback" not in log, log[log.find("Traceback") - 300:][:3000]


def _logged_in(tmp_path: Path, server: ServerProcess) -> tuple[imaplib.IMAP4, poplib.POP3]:
    tls = ssl.create_default_context(cafile=str(tmp_path / "data" / "tls" / "cert.pem"))
    imap = imaplib.IMAP4("127.0.0.1", server.port("imap"), timeout=30)
    imap.starttls(ssl_context=tls)
    imap.login("bob@example.com", PASSWORD)
    pop = poplib.POP3("127.0.0.1", server.port("pop3"), timeout=30)
    pop.stls(context=tls)
    pop.user("bob@example.com")
    pop.pass_(PASSWORD)
    return imap, pop


def _assert_unavailable(server: ServerProcess, imap: imaplib.IMAP4, pop: poplib.POP3) -> None:
    status, answer = imap.status("INBOX", "(MESSAGES)")
    assert status == "NO" and answer[0].startswith(b"[UNAVAILABLE]")
    with pytest.raises(poplib.error_proto, match=r"-ERR \[SYS/TEMP\]"):
        pop.retr(1)
    assert _health(server.port("http")) == 503
