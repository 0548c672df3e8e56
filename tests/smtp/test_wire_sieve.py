"""Sieve seen from the SMTP client of a real server: reject is 550 5.7.1 for a sole recipient."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Iterator

import pytest

from pillarbox.store.sqlite.store import SQLiteStore
from tests.smtp.conftest import MailServer, start_server

MESSAGE = b"From: alice@remote.test\r\nTo: bob@example.com\r\nSubject: offer\r\n\r\nBuy now.\r\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailServer]:
    running = start_server(tmp_path_factory.mktemp("smtp-sieve"))

    async def scripts() -> None:
        store = SQLiteStore.open(running.data_dir)
        try:
            bob = await store.get_account("bob@example.com")
            await store.put_sieve_script(bob.id, "no", 'require "reject";\n'
                                         'if header :contains "subject" "offer" { reject "No offers, thanks."; }')
            await store.activate_sieve_script(bob.id, "no")
        finally:
            await store.close()

    asyncio.run(scripts())
    yield running
    assert running.process.stop() == 0
    assert "Traceback" not in running.process.log()


def test_reject_is_550_at_end_of_data(server: MailServer) -> None:
    with smtplib.SMTP("127.0.0.1", server.smtp, timeout=10) as client, \
            pytest.raises(smtplib.SMTPDataError) as refused:
        client.sendmail("alice@remote.test", ["bob@example.com"], MESSAGE)
    assert refused.value.smtp_code == 550
    assert refused.value.smtp_error.startswith(b"5.7.1 Rejected by the recipient's filter: No offers, thanks.")
    assert server.messages("bob@example.com") == []


def test_with_other_recipients_the_rejection_goes_by_mail(server: MailServer) -> None:
    with smtplib.SMTP("127.0.0.1", server.smtp, timeout=10) as client:
        refused = client.sendmail("alice@remote.test", ["bob@example.com", "carol@example.com"], MESSAGE)
    assert refused == {}
    assert len(server.messages("carol@example.com")) == 1 and server.messages("bob@example.com") == []
    assert ("", "alice@remote.test") in server.queued()  # the DSN carrying the reason
