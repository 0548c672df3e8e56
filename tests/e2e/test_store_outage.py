"""PostgreSQL goes away under a running server and comes back: the protocols answer with their
temporary failures (SMTP 451 4.3.0, IMAP NO [UNAVAILABLE], POP3 -ERR [SYS/TEMP]), /healthz says so,
nothing is acknowledged that was not committed, and the server recovers by itself.

And at start: a refused login or an unreachable server is one line and exit status 1.
"""

from __future__ import annotations

import asyncio
import imaplib
import poplib
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

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
        tls = ssl.create_default_context(cafile=str(tmp_path / "data" / "tls" / "cert.pem"))
        imap = imaplib.IMAP4("127.0.0.1", server.port("imap"), timeout=30)
        imap.starttls(ssl_context=tls)
        imap.login("bob@example.com", PASSWORD)
        pop = poplib.POP3("127.0.0.1", server.port("pop3"), timeout=30)
        pop.stls(context=tls)
        pop.user("bob@example.com")
        pop.pass_(PASSWORD)
        assert _send(server.port("smtp"))[0] == 250
        assert _health(server.port("http")) == 200

        cluster.stop("fast")
        assert _send(server.port("smtp")) == (451, b"4.3.0 Local error in processing, try again later")
        status, answer = imap.status("INBOX", "(MESSAGES)")
        assert status == "NO" and answer[0].startswith(b"[UNAVAILABLE]")
        with pytest.raises(poplib.error_proto, match=r"-ERR \[SYS/TEMP\]"):
            pop.retr(1)
        assert _health(server.port("http")) == 503

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

