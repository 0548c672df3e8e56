"""FUTURERELEASE (RFC 4865) on submission: HOLDFOR / HOLDUNTIL hold the whole message in the queue until
its release (local recipients too), the limits are advertised and kept, and the MX role does not take it."""

from __future__ import annotations

import smtplib
import time

from tests.smtp.conftest import PASSWORD, MailServer
from tests.stores import run_at

MESSAGE = b"From: bob@example.com\r\nTo: carol@example.com\r\nSubject: later\r\n\r\nTomorrow's news.\r\n"


def _rows(server: MailServer, queue_id: str, with_attempts: bool = False) -> list[tuple]:
    entry = run_at(server.data_dir, lambda store: store.get_queue_entry(queue_id))
    return [(r.address, r.next_attempt, *((r.attempts,) if with_attempts else ())) for r in entry.recipients]


def test_a_held_message_waits_in_the_queue_local_recipients_too(server: MailServer):
    with smtplib.SMTP("127.0.0.1", server.submission, timeout=10) as client:
        client.starttls(context=server.tls_context())
        client.login("bob@example.com", PASSWORD)
        interval, latest = client.esmtp_features["futurerelease"].split()
        assert interval == "2592000" and latest.endswith("Z")
        before = len(server.messages("carol@example.com"))
        assert client.mail("bob@example.com", ["HOLDFOR=3600"])[0] == 250
        assert client.rcpt("carol@example.com")[0] == 250 and client.rcpt("x@remote.test")[0] == 250
        queue_id = client.data(MESSAGE)[1].decode().rsplit(" ", 1)[-1]
        rows = _rows(server, queue_id)
        assert sorted(address for address, _ in rows) == ["carol@example.com", "x@remote.test"]
        assert all(3500 < next_attempt - time.time() <= 3600 for _, next_attempt in rows)
        assert len(server.messages("carol@example.com")) == before  # nobody reads it early
        for bad, why in ((["HOLDFOR=1", "HOLDUNTIL=2030-01-01T00:00:00Z"], b"together"),
                         (["HOLDFOR=99999999"], b"too far"), (["HOLDUNTIL=2030-01-01"], b"")):
            code, text = client.mail("bob@example.com", bad)
            assert code == 501 and why in text, (bad, text)
        assert client.mail("bob@example.com", ["HOLDUNTIL=2000-01-01T00:00:00Z"])[0] == 250  # past: released at once
        assert client.rcpt("x@remote.test")[0] == 250
        queue_id = client.data(MESSAGE)[1].decode().rsplit(" ", 1)[-1]
        _, next_attempt, attempts = _rows(server, queue_id, with_attempts=True)[0]
        # released at once: due now, or already tried (the runner may beat this read; then it waits for a retry)
        assert attempts > 0 or abs(next_attempt - time.time()) < 60


def test_the_mx_role_does_not_take_futurerelease(server: MailServer):
    with smtplib.SMTP("127.0.0.1", server.smtp, timeout=10) as client:
        client.ehlo("client.test")
        assert not client.has_extn("futurerelease")
        assert client.mail("someone@remote.test", ["HOLDFOR=60"])[0] == 555
