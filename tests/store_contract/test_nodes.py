"""What several writers on one store must get right together: several processes on one SQLite
data_dir, or several nodes on one PostgreSQL database (here: two store instances, each with its own
connections, as two nodes have).

- concurrent appends into one mailbox from both: UIDs strictly increasing and never reused, MODSEQs
  growing with them, and a reader that follows the change log (as CONDSTORE/QRESYNC clients do) ends
  with exactly the mailbox's state;
- a change through one wakes the other's change feed by notification, not by its safety-net poll;
- queue leases: every due entry leased by exactly one of them, and taken over once the lease expires;
- POP3 maildrops and singleton jobs (leadership): held by one of them, free when the holder dies.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from pillarbox.store.api import Store
from pillarbox.store.postgres import feed as pg_feed
from pillarbox.store.records import DeliveryTarget, OutboundRecipient, OutboundRequest
from pillarbox.store.sqlite import feed as sqlite_feed
from tests import stores
from tests.store.conftest import message
from tests.store_contract.test_messages import _account


async def _deliveries(store: Store, mailbox_id: int, name: str, count: int) -> list[tuple[int, int]]:
    results = await asyncio.gather(*(
        store.deliver(message(f"{name}{n}"), [DeliveryTarget(mailbox_id)]) for n in range(count)))
    return [(r[0].uid, r[0].modseq) for r in results]


async def _follow(store: Store, mailbox_id: int, stop: asyncio.Event) -> dict[int, tuple[frozenset[str], int]]:
    """A CONDSTORE/QRESYNC client: re-read what changed since the last HIGHESTMODSEQ it saw, until told
    to stop (and once more after); returns its view, UID -> (flags, MODSEQ)."""
    view: dict[int, tuple[frozenset[str], int]] = {}
    seen = 0
    while True:
        stopping = stop.is_set()
        changes = await store.changes_since(mailbox_id, seen)
        assert changes.mailbox.highestmodseq >= seen  # HIGHESTMODSEQ never goes back
        for uid in changes.expunged:
            view.pop(uid, None)
        for entry in changes.changed:
            view[entry.uid] = (entry.flags, entry.modseq)
        seen = changes.mailbox.highestmodseq
        if stopping:
            return view
        await asyncio.sleep(0)


def test_two_writers_append_flag_and_expunge_in_one_mailbox(with_store):
    async def body(store: Store) -> None:
        _, inbox = await _account(store)
        other = await stores.open_another(store)
        try:
            stop = asyncio.Event()
            follower = asyncio.create_task(_follow(other, inbox.id, stop))
            first = await asyncio.gather(_deliveries(store, inbox.id, "a", 25), _deliveries(other, inbox.id, "b", 25),
                                         _churn(store, other, inbox.id))
            expunged = await store.expunge(inbox.id, [uid for uid, _ in first[0][:5]])
            later = await asyncio.gather(_deliveries(other, inbox.id, "c", 10), _deliveries(store, inbox.id, "d", 10))
            stop.set()
            view = await follower
        finally:
            await other.close()
        appended = sorted(first[0] + first[1] + later[0] + later[1])
        uids = [uid for uid, _ in appended]
        assert uids == list(range(1, 71))  # strictly increasing, none skipped, none reused after expunge
        assert [modseq for _, modseq in appended] == sorted({modseq for _, modseq in appended})
        assert min(uid for uid, _ in later[0] + later[1]) > max(expunged)
        final = {e.uid: (e.flags, e.modseq) for e in await store.list_messages(inbox.id)}
        assert view == final  # the change log told the follower everything, in time

    with_store(body)


async def _churn(one: Store, two: Store, mailbox_id: int) -> None:
    """Flag changes from both writers while the appends go on."""
    rng = random.Random(7)
    for n in range(30):
        writer = one if n % 2 else two
        await writer.store_flags(mailbox_id, [rng.randint(1, 40)], "add", [rng.choice(["\\Seen", "$Work"])])
        await asyncio.sleep(0)


def test_a_change_through_one_wakes_the_others_feed_by_notification(with_store, monkeypatch):
    for module in (sqlite_feed, pg_feed):
        monkeypatch.setattr(module, "POLL_INTERVAL", 3600.0)  # only the notification can be in time

    async def body(store: Store) -> None:
        _, inbox = await _account(store)
        other = await stores.open_another(store)
        try:
            known = {inbox.id: (await store.get_mailbox_by_id(inbox.id)).highestmodseq}
            assert not await store.changes.wait(known, timeout=0.2)  # listening from now on
            waiting = asyncio.create_task(store.changes.wait(known, timeout=30))
            await asyncio.sleep(0.05)
            await other.store_flags(inbox.id, [1], "add", ["\\Seen"])  # nothing to flag: no change
            await other.deliver(message("from the other node"), [DeliveryTarget(inbox.id)])
            assert await waiting is True
        finally:
            await other.close()

    with_store(body)


def test_queue_entries_are_leased_once_and_taken_over_after_expiry(tmp_path: Path, store_url: str | None):
    now = [1_800_000_000.0]

    async def body() -> None:
        store = await stores.open_store(tmp_path, store_url, clock=lambda: now[0])
        other = await stores.open_another(store, clock=lambda: now[0])
        try:
            queued = set()
            for n in range(24):  # each request gets its own queue id
                request = OutboundRequest("alice@example.com", (OutboundRecipient("x@remote.test"),))
                queued.add((await store.deliver_and_queue(message(f"q{n}"), [], request)).queue_id)
            taken = await asyncio.gather(*(_lease_all(s, name) for s in (store, other) for name in ("1", "2")))
            leased = [entry for batch in taken for entry in batch]
            assert sorted(leased) == sorted(queued)  # every entry once, none twice
            assert await other.lease_queue("node-b", 60, 100) == []  # all leased for an hour
            now[0] += 3601  # node-a died mid-delivery: its leases end
            again = await other.lease_queue("node-b", 60, 100)
            assert {entry.id for entry in again} == queued
            assert {entry.lease_owner for entry in again} == {"node-b"}
        finally:
            await other.close()
            await store.close()

    asyncio.run(body())


async def _lease_all(store: Store, runner: str) -> list[str]:
    leased: list[str] = []
    while batch := await store.lease_queue(f"node-{runner}", 3600, 3):
        leased.extend(entry.id for entry in batch)
        await asyncio.sleep(0)
    return leased


def test_a_pop3_maildrop_is_locked_for_every_writer_and_freed_when_the_holder_dies(tmp_path, store_url):
    now = [1_800_000_000.0]

    async def body() -> None:
        store = await stores.open_store(tmp_path, store_url, clock=lambda: now[0])
        other = await stores.open_another(store, clock=lambda: now[0])
        try:
            mine, theirs = store.maildrop_locks(), other.maildrop_locks()
            assert await mine.acquire(7)
            assert not await mine.acquire(7)  # a second session here
            assert not await theirs.acquire(7)  # a session on another node (process)
            assert await theirs.acquire(8)  # other maildrops are free
            assert await theirs.too_soon(7, login_delay=60)  # the login is seen everywhere
            now[0] += 61
            assert not await theirs.too_soon(7, login_delay=60)
            mine.release(7)
            assert await _eventually(lambda: theirs.acquire(7))
            theirs.release(7)
            assert await _eventually(lambda: mine.acquire(7))
            await store.close()  # the holder dies: its locks go with it
            assert await _eventually(lambda: theirs.acquire(7))
        finally:
            await other.close()

    asyncio.run(body())


async def _eventually(attempt) -> bool:
    """A release may take a round trip to arrive (PostgreSQL): try again for a while."""
    for _ in range(200):
        if await attempt():
            return True
        await asyncio.sleep(0.01)
    return False


def test_a_daily_job_is_claimed_by_one_writer_per_day(with_store):
    async def body(store: Store) -> None:
        other = await stores.open_another(store)
        try:
            claims = await asyncio.gather(*(s.claim_daily_job("dmarc-reports", "2026-03-01")
                                            for s in (store, other, store, other)))
            assert sorted(claims) == [False, False, False, True]
            assert await other.claim_daily_job("dmarc-reports", "2026-03-02")  # the next day
            assert await store.claim_daily_job("tls-reports", "2026-03-01")  # another job
        finally:
            await other.close()

    with_store(body)


def test_a_singleton_job_is_led_by_one_writer_and_taken_over_when_the_leader_dies(tmp_path, store_url):
    async def body() -> None:
        store = await stores.open_store(tmp_path, store_url)
        other = await stores.open_another(store)
        try:
            mine, theirs = store.leadership(), other.leadership()
            assert await mine.hold("queue-sampler")
            assert await mine.hold("queue-sampler")  # confirmed while held
            assert not await theirs.hold("queue-sampler")
            assert await theirs.hold("acme")  # each job has its own leader
            assert not await mine.hold("acme")
            await store.close()  # the leader dies: its jobs are free
            assert await _eventually(lambda: theirs.hold("queue-sampler"))
        finally:
            await other.close()

    asyncio.run(body())


def test_delivery_slots_of_a_destination_are_counted_over_every_writer(tmp_path, store_url):
    async def body() -> None:
        store = await stores.open_store(tmp_path, store_url)
        other = await stores.open_another(store)
        others = [other]
        try:
            mine, theirs = store.destination_slots(), other.destination_slots()
            assert await mine.take("remote.test", 2) == 0
            assert await theirs.take("remote.test", 2) == 1
            assert await mine.take("remote.test", 2) is None  # two run already, one on each
            assert await theirs.take("remote.test", 2) is None
            assert await theirs.take("other.test", 2) == 0  # each domain counts alone
            await mine.release("remote.test", 0)
            assert await theirs.take("remote.test", 2) == 0
            await theirs.release("remote.test", 1)
            assert await mine.take("remote.test", 2) == 1
            await others.pop().close()  # a node dies: its slots are free
            assert await _eventually(lambda: _took(mine.take("remote.test", 2)))
        finally:
            for node in (*others, store):
                await node.close()

    asyncio.run(body())


async def _took(taking) -> bool:
    return await taking is not None
