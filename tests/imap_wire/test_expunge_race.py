"""Many clients on one mailbox while others expunge from it (RFC 2180 4): every command gets OK, or NO
[EXPUNGEISSUED] for a message that is gone, never NO [SERVERBUG] (2,003 tracebacks in 30 s before)."""

from __future__ import annotations

import re
import threading
from collections import Counter

import pytest

from tests.imap_wire.conftest import IMAPServer
from tests.imap_wire.raw import RawIMAP

USER = "dave@example.com"
ROUNDS = 25
ANCHORS = 3  # never expunged, so "1:*" always names something


def _client(server: IMAPServer) -> RawIMAP:
    return RawIMAP(server.imaps, server.tls_context(), USER)


def _churn(server: IMAPServer, worker: int, replies: Counter[str]) -> None:
    """Append a message, then flag and expunge it by UID: the others keep finding messages gone."""
    client = _client(server)
    try:
        client.command("w0 SELECT Churn")
        for n in range(ROUNDS):
            body = f"Subject: churn {worker}.{n}\r\n\r\n{'x' * 200}\r\n".encode()
            appended = client.command(b"w1 APPEND Churn {%d+}\r\n" % len(body) + body)[-1]
            uid = re.search(rb"APPENDUID \d+ (\d+)", appended).group(1).decode()  # type: ignore[union-attr]
            for line in (client.command(f"w2 UID STORE {uid} +FLAGS.SILENT (\\Deleted)")
                         + client.command(f"w3 UID EXPUNGE {uid}")):
                _count(line, replies)
    finally:
        client.close()


def _read(server: IMAPServer, replies: Counter[str]) -> None:
    """What clients do on a busy mailbox, with sequence numbers that go stale under them."""
    client = _client(server)
    commands = ("r1 FETCH 1:* (FLAGS ENVELOPE BODYSTRUCTURE BODY.PEEK[])", "r2 UID FETCH 1:* (BODY.PEEK[HEADER])",
                "r3 STORE 1:* +FLAGS (\\Seen)", "r4 SEARCH HEADER Subject churn", "r5 COPY 1:* ChurnCopy",
                "r6 FETCH 1:* (BINARY.PEEK[1] PREVIEW)", "r7 UID SEARCH TO x", "r8 SORT (DATE FROM) UTF-8 ALL",
                "r9 THREAD REFERENCES UTF-8 ALL", "r0 NOOP")
    try:
        client.command("r0 SELECT Churn")
        for _ in range(ROUNDS):
            for command in commands:
                for line in client.command(command):
                    _count(line, replies)
    finally:
        client.close()


def _count(line: bytes, replies: Counter[str]) -> None:
    found = re.match(rb"[rw]\d+ (OK|NO|BAD)( \[[A-Z-]+)?", line)
    if found:
        replies[(found.group(1) + (found.group(2) or b"")).decode().replace(" [", " ")] += 1
    elif b"SERVERBUG" in line:
        replies["untagged SERVERBUG"] += 1


@pytest.mark.slow
def test_no_command_fails_with_serverbug_while_messages_are_expunged(server: IMAPServer):
    setup = _client(server)
    for number, name in enumerate(("Churn", "ChurnCopy")):
        setup.command(f"s{number} CREATE {name}")
    for n in range(ANCHORS):
        body = f"Subject: anchor {n}\r\n\r\nkept\r\n".encode()
        setup.command(b"s3 APPEND Churn {%d+}\r\n" % len(body) + body)
    setup.close()
    counts: list[Counter[str]] = [Counter() for _ in range(5)]  # one per thread
    workers = [threading.Thread(target=_churn, args=(server, n, counts[n])) for n in range(2)]
    workers += [threading.Thread(target=_read, args=(server, counts[n])) for n in range(2, 5)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=240)
    assert not any(worker.is_alive() for worker in workers)
    replies = sum(counts, Counter())
    assert set(replies) <= {"OK", "OK READ-WRITE", "OK COPYUID", "OK EXPUNGEISSUED", "NO EXPUNGEISSUED"}, replies
    assert replies["OK"] >= 3 * ROUNDS * 4  # every reader got through its rounds
    assert "internal error" not in server.process.log()
