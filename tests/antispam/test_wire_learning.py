"""Learning from users over IMAP: moves into and out of Junk, $Junk/$NotJunk, and the allow/block lists.

A real server (SMTP in, IMAP for the user), its learning job reading the change log every 0.1 s; the
tests wait for the job's log lines, never for a time.
"""

from __future__ import annotations

import imaplib
import re
import smtplib
import time
import urllib.request
from collections.abc import Iterator

import pytest

from tests.imap_wire.conftest import IMAPServer, start_imap_server
from tests.server_process import pillarbox
from tests.stores import run_at

LEARNING = "pregreet_delay = 0\nlearn_interval = 0.1\n"


def offer(number: int) -> bytes:
    """One of a kind: the same pitch each time, a different order number."""
    return (f"From: Deals <deals@offers.test>\r\nTo: bob@example.com\r\nSubject: Cheap watches order {number}\r\n"
            f"\r\nBuy cheap replica watches now, limited discount offer {number}, click http://watches.test/buy"
            f" for luxury brands at wholesale prices. Free shipping worldwide, order today.\r\n").encode()


def note(number: int, sender: str = "alice@remote.test") -> bytes:
    return (f"From: Alice <{sender}>\r\nTo: bob@example.com\r\nSubject: Minutes of meeting {number}\r\n\r\n"
            f"Hi Bob, here are the minutes of our project meeting {number}. We agreed on the schedule"
            f" for the garden committee and Carol will bring the survey results on Tuesday.\r\n").encode()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IMAPServer]:
    running = start_imap_server(tmp_path_factory.mktemp("learning"), antispam=LEARNING)
    yield running
    assert running.process.stop() == 0
    assert "Traceback" not in running.process.log()


def deliver(server: IMAPServer, message: bytes, recipient: str = "bob@example.com") -> None:
    sender = re.search(rb"<([^>]+)>", message).group(1).decode()  # type: ignore[union-attr]
    with smtplib.SMTP("127.0.0.1", server.smtp) as client:
        assert client.sendmail(sender, [recipient], message) == {}


def subjects(server: IMAPServer, folder: str, user: str = "bob@example.com") -> list[str]:
    return [re.search(rb"Subject: ([^\r]*)", m).group(1).decode()  # type: ignore[union-attr]
            for m in server.messages(user, folder)]


def wait_learned(server: IMAPServer, user: str, kind: str, count: int) -> None:
    """Until the job has logged ``count`` lessons of ``kind`` for ``user`` in all (it is asynchronous)."""
    pattern = f'msg="?learned"? account_id={account_id(server, user)} .*kind={kind}'
    until = time.monotonic() + 30
    while time.monotonic() < until:
        if sum(bool(re.search(pattern, line)) for line in list(server.process.lines)) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} lines matching {pattern}:\n{server.process.log()}")


def account_id(server: IMAPServer, user: str) -> int:
    account = run_at(server.data_dir, lambda store: store.get_account(user))  # either backend
    assert account is not None
    return int(account.id)


def uids(client: imaplib.IMAP4, criteria: str) -> bytes:
    typ, data = client.uid("SEARCH", criteria)
    assert typ == "OK"
    return b",".join(data[0].split())


def read_a_note(server: IMAPServer, user: str, number: int) -> None:
    """``user`` gets an ordinary message and reads it: the job learns it as ham (learning.py)."""
    deliver(server, note(number), user)
    client = server.login(user)
    client.select("INBOX")
    assert client.uid("FETCH", uids(client, f'SUBJECT "meeting {number}"').decode(), "(BODY[])")[0] == "OK"
    client.logout()
    wait_learned(server, user, "ham", 1)


def train(server: IMAPServer, user: str, numbers: range) -> None:
    """``user`` reads an ordinary message, gets these offers and moves them into Junk."""
    read_a_note(server, user, numbers.start)
    for number in numbers:
        deliver(server, offer(number), user)
    client = server.login(user)
    client.select("INBOX")
    assert client.uid("MOVE", uids(client, 'SUBJECT "Cheap watches"').decode(), "Junk")[0] == "OK"
    client.logout()
    wait_learned(server, user, "spam", len(numbers))


def test_three_moved_into_junk_file_the_fourth_and_moving_one_out_lets_the_next_through(server: IMAPServer):
    train(server, "bob@example.com", range(1, 4))
    deliver(server, offer(4))
    deliver(server, note(2))
    assert subjects(server, "Junk") == [f"Cheap watches order {n}" for n in range(1, 5)]
    assert subjects(server, "INBOX") == ["Minutes of meeting 1", "Minutes of meeting 2"]
    filed = server.messages("bob@example.com", "Junk")[-1]
    assert b"X-Spam-Flag: YES\r\nX-Spam-Status: Yes, score=" in filed and b"source=bayes host=mx.test" in filed
    server.process.wait_for_log(r"transaction.* spam=junk spam_score=1\.00 spam_source=bayes")
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{server.process.port('http')}/metrics", timeout=10).read()
    assert b'pillarbox_antispam_verdicts_total{verdict="junk",source="bayes"}' in metrics
    assert b'pillarbox_antispam_learned_total{as="spam"}' in metrics

    client = server.login()
    client.select("Junk")
    assert client.uid("MOVE", uids(client, 'SUBJECT "order 1"').decode(), "INBOX")[0] == "OK"
    client.logout()
    wait_learned(server, "bob@example.com", "ham", 2)  # the message read first, and this one
    deliver(server, offer(5))
    assert subjects(server, "INBOX")[-1] == "Cheap watches order 5"


def test_junk_and_notjunk_keywords_teach_too(server: IMAPServer):
    carol = "carol@example.com"
    read_a_note(server, carol, 1)
    for number in range(1, 4):
        deliver(server, offer(number), carol)
    client = server.login(carol)
    client.select("INBOX")
    assert client.uid("STORE", uids(client, 'SUBJECT "Cheap watches"').decode(), "+FLAGS", "($Junk)")[0] == "OK"
    wait_learned(server, carol, "spam", 3)
    deliver(server, offer(9), carol)
    assert subjects(server, "Junk", carol) == ["Cheap watches order 9"]
    client.select("Junk")
    assert client.uid("STORE", uids(client, "ALL").decode(), "+FLAGS", "($NotJunk)")[0] == "OK"
    wait_learned(server, carol, "ham", 2)
    client.logout()


def test_allow_and_block_lists_win_over_the_classifier(server: IMAPServer):
    dave = "dave@example.com"
    config = server.data_dir.parent / "pillarbox.toml"
    train(server, dave, range(30, 33))
    pillarbox(config, "antispam", "allow", dave, "deals@offers.test")
    pillarbox(config, "antispam", "block", dave, "@remote.test")
    deliver(server, offer(33), dave)
    deliver(server, note(34), dave)
    assert subjects(server, "INBOX", dave)[-1] == "Cheap watches order 33"  # the classifier says spam: allowed
    assert subjects(server, "Junk", dave)[-1] == "Minutes of meeting 34"
    server.process.wait_for_log(r"spam=junk spam_score=1\.00 spam_source=blocklist"
                                r" spam_reasons=BLOCKLIST\(remote\.test\)")
    listing = pillarbox(config, "antispam", "list", dave).stdout.decode()
    assert "deals@offers.test" in listing and "remote.test" in listing
