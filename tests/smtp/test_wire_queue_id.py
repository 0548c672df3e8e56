"""One queue id from end to end: the 250 reply, ``pillarbox queue`` and every log line of the message."""

from __future__ import annotations

import json
import re
import smtplib

from pillarbox.store.records import is_queue_id
from tests.server_process import pillarbox
from tests.smtp.conftest import PASSWORD, MailServer

MESSAGE = b"From: bob@example.com\r\nTo: x@remote.test\r\nSubject: queued\r\n\r\nHello.\r\n"


def submit_remote(server: MailServer) -> str:
    """Submit one message to a remote recipient; the queue id the 250 reply names."""
    with smtplib.SMTP("127.0.0.1", server.submission, timeout=10) as client:
        client.starttls(context=server.tls_context())
        client.login("bob@example.com", PASSWORD)
        client.mail("bob@example.com")
        client.rcpt("x@remote.test")
        code, text = client.data(MESSAGE)
    assert code == 250, text
    found = re.search(rb" ([0-9a-z]{12})$", text)
    assert found, text
    return found.group(1).decode()


def test_the_reply_id_is_the_queue_id_and_the_log_id(server: MailServer):
    queue_id = submit_remote(server)
    assert is_queue_id(queue_id)
    shown = pillarbox(server.process.config, "queue", "show", queue_id).stdout.decode()
    assert shown.startswith(f"queue id:  {queue_id}") and f"id {queue_id}" in shown  # the Received field too
    listed = json.loads(pillarbox(server.process.config, "queue", "list", "--json").stdout)
    assert queue_id in [entry["id"] for entry in listed]
    server.process.wait_for_log(rf"msg=\"transaction\" .*queue_id={queue_id} .*result=\"?250 2.0.0")
    # the only route refuses connections: the attempt fails, and its line names the same id
    server.process.wait_for_log(rf"msg=\"delivery attempt\" queue_id={queue_id} recipient=x@remote.test")
    assert pillarbox(server.process.config, "queue", "show", queue_id.upper()).returncode == 0


def test_deleting_an_entry_logs_its_end(server: MailServer):
    queue_id = submit_remote(server)
    done = pillarbox(server.process.config, "--log-level", "info", "queue", "delete", queue_id)
    assert f"deleted queue entry {queue_id}" in done.stdout.decode()
    assert re.search(rf"msg=\"queue entry done\" queue_id={queue_id} result=deleted", done.stderr.decode())
    refused = pillarbox(server.process.config, "queue", "show", queue_id, check=False)
    assert refused.returncode == 1 and f"no queue entry {queue_id}" in refused.stderr.decode()
    bad = pillarbox(server.process.config, "queue", "show", "1", check=False)
    assert bad.returncode == 2 and "not a queue id: '1'" in bad.stderr.decode()
