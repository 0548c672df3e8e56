"""Every log line of a queued message carries its queue id, and the last one says how it ended."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pillarbox.auth.directory import Directory
from pillarbox.config import Config, QueueConfig
from pillarbox.dns.fake import FakeResolver
from pillarbox.outbound.deliver import OutboundMessage, Outcome, Target
from pillarbox.queue.runner import QueueRunner
from pillarbox.queue.setup import build_deliverer
from pillarbox.store.records import (
    QUEUE_ID_ALPHABET,
    QUEUE_ID_LENGTH,
    OutboundRecipient,
    OutboundRequest,
    is_queue_id,
    new_queue_id,
)
from tests.store.conftest import message
from tests.stores import open_at

CREATED = 1_000_000
MAX_AGE = 3600


def run_once(tmp_path: Path, kinds: dict[str, str], now: int = CREATED,
             sender: str = "alice@a.test") -> tuple[str, list[logging.LogRecord]]:
    """Queue a message from a.test to ``kinds``' addresses, let the runner try each once with the
    outcome named there (``sent``, ``temporary``, ``permanent``) at time ``now``; its records."""
    records: list[logging.LogRecord] = []

    async def run() -> str:
        store = await open_at(tmp_path, clock=lambda: CREATED)
        try:
            await store.add_domain("a.test")
            await store.add_account("alice@a.test", "not a hash: nobody logs in", None)
            request = OutboundRequest(sender, tuple(OutboundRecipient(a) for a in kinds))
            await store.deliver_and_queue(message(), [], request)
            config = Config(hostname="mx.a.test", data_dir=tmp_path, queue=QueueConfig(max_age=MAX_AGE))
            runner = QueueRunner(store, Directory(store), build_deliverer(config, store, FakeResolver()),
                                 config, clock=lambda: now)

            async def deliver(msg: OutboundMessage, domain: str, targets: Sequence[Target], record: object):
                return [Outcome(t.position, kinds[t.address], "5.1.1" if kinds[t.address] == "permanent"
                                else "2.0.0", "smtp; test", "mx.test") for t in targets]

            runner.deliverer.deliver = deliver  # type: ignore[method-assign]
            [entry] = await store.lease_queue(runner.owner, 60, 10)
            await runner.process(entry)
            return request.queue_id
        finally:
            await store.close()

    handler = _Collect(records)
    logging.getLogger("pillarbox").addHandler(handler)
    logging.getLogger("pillarbox").setLevel(logging.INFO)
    try:
        return asyncio.run(run()), records
    finally:
        logging.getLogger("pillarbox").removeHandler(handler)


class _Collect(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__()
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def lines(records: list[logging.LogRecord], msg: str) -> list[dict]:
    return [r.fields for r in records if r.getMessage() == msg]  # type: ignore[attr-defined]


def test_a_delivered_entry_ends_with_delivered(tmp_path: Path):
    queue_id, records = run_once(tmp_path, {"bob@b.test": "sent", "carol@c.test": "sent"})
    assert is_queue_id(queue_id)
    [done] = lines(records, "queue entry done")
    assert done == {"queue_id": queue_id, "result": "delivered", "delivered": 2, "failed": 0}


def test_a_bounce_names_the_original_id_and_the_entry_ends_bounced(tmp_path: Path):
    queue_id, records = run_once(tmp_path, {"bob@b.test": "sent", "nobody@c.test": "permanent"})
    [dsn] = lines(records, "dsn")
    assert dsn["queue_id"] == queue_id and dsn["to"] == "alice@a.test" and dsn["actions"] == "failed"
    assert dsn["recipients"] == "nobody@c.test"
    assert dsn["dsn_queue_id"] is None  # a.test is ours: the bounce went straight into alice's mailbox
    [done] = lines(records, "queue entry done")
    assert done == {"queue_id": queue_id, "result": "bounced", "delivered": 1, "failed": 1}


def test_a_queued_bounce_has_its_own_id_and_names_the_original(tmp_path: Path):
    queue_id, records = run_once(tmp_path, {"nobody@c.test": "permanent"}, sender="zed@remote.test")
    [dsn] = lines(records, "dsn")
    assert dsn["queue_id"] == queue_id and is_queue_id(dsn["dsn_queue_id"]) and dsn["dsn_queue_id"] != queue_id


def test_an_expired_entry_ends_expired(tmp_path: Path):
    queue_id, records = run_once(tmp_path, {"bob@b.test": "temporary"}, now=CREATED + MAX_AGE)
    [expired] = lines(records, "delivery expired")
    assert expired["queue_id"] == queue_id
    [done] = lines(records, "queue entry done")
    assert done["queue_id"] == queue_id and done["result"] == "expired"


@pytest.mark.parametrize("text", ["", "1", "0123456789ab0", "0123456789ai", "../etc/passw", "0123456789AB"])
def test_what_is_not_a_queue_id(text: str):
    assert not is_queue_id(text)


@given(st.builds(lambda _: new_queue_id(), st.integers()), st.text(max_size=20))
def test_new_ids_are_queue_ids_and_nothing_else_is(made: str, other: str):
    assert is_queue_id(made) and len(made) == QUEUE_ID_LENGTH
    assert is_queue_id(other) == (len(other) == QUEUE_ID_LENGTH and set(other) <= set(QUEUE_ID_ALPHABET))


def test_a_queue_id_reads_the_system_randomness_once(monkeypatch):
    """One id per SMTP transaction: it took 26 getrandom(2) calls (one secrets.choice per character)."""
    import random

    reads: list[int] = []
    real = random._urandom  # what secrets' SystemRandom reads
    monkeypatch.setattr(random, "_urandom", lambda n: reads.append(n) or real(n))
    made = {new_queue_id() for _ in range(200)}
    assert len(reads) == 200 and len(made) == 200
    assert set("".join(made)) == set(QUEUE_ID_ALPHABET)  # every letter still comes up
