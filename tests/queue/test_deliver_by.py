"""DELIVERBY (RFC 2852) in the queue: an R message fails with 5.4.7 at its deadline (and is tried again
then, not after its backoff); an N message owes a "delayed" DSN (4.4.7) at its deadline and goes on."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from pillarbox.auth.directory import Directory
from pillarbox.config import Config, QueueConfig
from pillarbox.dns.fake import FakeResolver
from pillarbox.outbound.deliver import OutboundMessage, Outcome, Target
from pillarbox.queue.reports import due_actions, recipient_report
from pillarbox.queue.runner import QueueRunner
from pillarbox.queue.schedule import RetryPolicy
from pillarbox.queue.setup import build_deliverer
from pillarbox.store.records import OutboundRecipient, OutboundRequest, QueuedMessage, QueuedRecipient
from pillarbox.store.sqlite.store import SQLiteStore
from tests.store.conftest import message

CREATED = 1_000_000


def test_a_return_mode_message_expires_at_its_deadline(tmp_path: Path) -> None:
    now = [CREATED + 10]
    seen: list[OutboundMessage] = []

    async def run() -> None:
        store = SQLiteStore.open(tmp_path, clock=lambda: CREATED)
        try:
            await store.add_domain("a.test")
            request = OutboundRequest("alice@a.test", (OutboundRecipient("u@b.test"),),
                                      deliver_by=CREATED + 100, by_mode="R")
            await store.deliver_and_queue(message(), [], request)
            config = Config(hostname="mx.a.test", data_dir=tmp_path, queue=QueueConfig(retry_first=600))
            runner = QueueRunner(store, Directory(store), build_deliverer(config, store, FakeResolver()),
                                 config, clock=lambda: now[0])

            async def deliver(msg: OutboundMessage, domain: str, targets: Sequence[Target], record: object):
                seen.append(msg)
                return [Outcome(t.position, "temporary", "4.4.1", "smtp; busy", "mx.b.test") for t in targets]

            runner.deliverer.deliver = deliver  # type: ignore[method-assign]
            await runner.attempt(await store.get_queue_entry(request.queue_id))
            [r] = (await store.get_queue_entry(request.queue_id)).recipients
            assert (r.state, r.next_attempt) == ("pending", CREATED + 100)  # not CREATED + 610
            assert seen[0].deadline is not None and seen[0].deadline.parameter(CREATED + 10) == "BY=90;R"
            now[0] = CREATED + 100
            await runner.attempt(await store.get_queue_entry(request.queue_id))
            [r] = (await store.get_queue_entry(request.queue_id)).recipients
            assert (r.state, r.status) == ("failed", "5.4.7") and len(seen) == 1
        finally:
            await store.close()

    asyncio.run(run())


def _entry(mode: str, deliver_by: int) -> QueuedMessage:
    pending = QueuedRecipient(0, "u@b.test", None, (), "pending", 1, 0, status="4.4.1")
    return QueuedMessage("q1", 1, "a@a.test", None, None, None, False, None, False, 0, (pending,),
                         deliver_by=deliver_by, by_mode=mode)


def test_a_notify_mode_message_reports_a_delay_at_its_deadline() -> None:
    policy = RetryPolicy(delay_notice=10_000)
    entry = _entry("N", 50)
    assert due_actions(entry, policy, now=49) == {}
    assert due_actions(entry, policy, now=50) == {0: "delayed"}
    assert recipient_report(entry, entry.recipients[0], "delayed", policy, 50).status == "4.4.7"
    assert due_actions(_entry("R", 50), policy, now=50) == {}  # R fails instead (the runner)
