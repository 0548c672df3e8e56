"""Group commit on a node: the deliveries that wait at one moment go to PostgreSQL as one statement.

The SQLite writer (``sqlite/writer.py``) batches every job that queued while the previous batch
committed; this does the same for deliveries on PostgreSQL. While one batch is on its way, new
deliveries queue; when it returns, everything queued meanwhile leaves as the next batch: one call of the
server-side function ``pillarbox_deliver`` (``schema.DELIVER_BATCH``), which is one round trip, one
transaction, one WAL flush and one NOTIFY for all of them. A lone delivery leaves at once (no added
wait). Callers hear their outcome only after that statement returned, i.e. after COMMIT: the durability
rule is unchanged.

A batch that fails as a whole for a reason other than the server being gone (a bug, a bad value) is
tried again one delivery at a time, so the error reaches the caller whose delivery caused it and the
others are stored. Deliveries take their place in the queue when called, before their message is
parsed (a large one parses in a thread), and leave in that order: on one node, UIDs follow the order
of the calls, as on SQLite.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import asyncpg

from pillarbox.errors import NotFound, QuotaExceeded, StorageFull, StoreUnavailable
from pillarbox.store import flags as flagcodec
from pillarbox.store.postgres.connection import Database
from pillarbox.store.postgres.messages import clean
from pillarbox.store.prepare import PreparedMessage
from pillarbox.store.records import Appended, DeliveryTarget, Refused

MAX_BATCH = 256
"""Deliveries per statement at most (a longer queue leaves in several batches, one after the other)."""

_REFUSALS = {
    "no mailbox": lambda mailbox_id: NotFound(f"no mailbox {mailbox_id}"),
    "storage": lambda _id: QuotaExceeded("mailbox is over its storage quota"),
    "message-count": lambda _id: QuotaExceeded("mailbox is over its message-count quota"),
}
_CALL = "SELECT uid, modseq, uidvalidity, refusal FROM pillarbox_deliver(" + ", ".join(
    f"${n}" for n in range(1, 19)) + ")"


@dataclass
class Delivery:
    """One message for some local mailboxes; ``done`` settles after COMMIT."""

    raw: bytes
    targets: Sequence[DeliveryTarget]
    internal: Sequence[tuple[int, int]]
    """Each target's INTERNALDATE: (Unix seconds, zone in minutes east of UTC)."""
    prepared: PreparedMessage | None = None
    """None until parsed: a batch takes only the parsed deliveries at the head of the queue."""
    done: asyncio.Future[tuple[Appended | Refused, ...]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())


class DeliveryBatcher:
    """One per store (node process): ``await deliver(...)`` joins the next batch."""

    def __init__(self, db: Database, clock: Callable[[], int]) -> None:
        self._db = db
        self._clock = clock
        self._waiting: list[Delivery] = []
        self._running: asyncio.Task[None] | None = None
        self.batches = 0
        self.deliveries = 0

    def enter(self, raw: bytes, targets: Sequence[DeliveryTarget], internal: Sequence[tuple[int, int]]) -> Delivery:
        """Take a place in the queue now (before parsing): the order of the calls is the order of the UIDs."""
        delivery = Delivery(raw, targets, internal)
        self._waiting.append(delivery)
        return delivery

    def leave(self, delivery: Delivery) -> None:
        """Give the place up (parsing failed, or the caller went away before it was parsed)."""
        if delivery in self._waiting and delivery.prepared is None:
            self._waiting.remove(delivery)
            self._start()

    async def deliver(self, delivery: Delivery, prepared: PreparedMessage) -> tuple[Appended | Refused, ...]:
        """The delivery's message is parsed: store it with the next batch; returns after COMMIT."""
        delivery.prepared = prepared
        self._start()
        return await asyncio.shield(delivery.done)

    def _start(self) -> None:
        if self._running is None or self._running.done():
            self._running = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        while batch := self._ready():
            await self._run(batch)

    def _ready(self) -> list[Delivery]:
        """The parsed deliveries at the head of the queue (at most MAX_BATCH), taken out of it."""
        count = 0
        while count < min(len(self._waiting), MAX_BATCH) and self._waiting[count].prepared is not None:
            count += 1
        batch, self._waiting = self._waiting[:count], self._waiting[count:]
        return batch

    async def _run(self, batch: list[Delivery]) -> None:
        now = self._clock()
        try:
            outcomes = await self._db.statement(lambda conn: _call(conn, batch, now))
        except (StoreUnavailable, StorageFull) as exc:  # nothing was stored (or, lost at COMMIT, unknown)
            _fail(batch, exc)
            return
        except Exception as exc:
            if len(batch) == 1:
                _fail(batch, exc)
                return
            for delivery in batch:  # find the one at fault; the others are stored
                await self._run([delivery])
            return
        self.batches += 1
        self.deliveries += len(batch)
        for delivery, outcome in zip(batch, outcomes, strict=True):
            if not delivery.done.done():
                delivery.done.set_result(outcome)


def _fail(batch: list[Delivery], exc: BaseException) -> None:
    for delivery in batch:
        if not delivery.done.done():
            delivery.done.set_exception(exc)


async def _call(conn: asyncpg.Connection, batch: list[Delivery], now: int) -> list[tuple[Appended | Refused, ...]]:
    columns = _message_columns(batch)
    positions, mailbox_ids, bits, keywords, internal, zones = [], [], [], [], [], []
    for position, delivery in enumerate(batch, 1):
        for target, (seconds, zone) in zip(delivery.targets, delivery.internal, strict=True):
            encoded = flagcodec.encode(target.flags)
            positions.append(position)
            mailbox_ids.append(target.mailbox_id)
            bits.append(encoded[0])
            keywords.append(encoded[1])
            internal.append(seconds)
            zones.append(zone)
    rows = iter(await conn.fetch(_CALL, *columns, now, positions, mailbox_ids, bits, keywords, internal, zones))
    return [tuple(_outcome(target.mailbox_id, next(rows)) for target in delivery.targets) for delivery in batch]


def _message_columns(batch: list[Delivery]) -> list[list[object]]:
    prepared = [d.prepared for d in batch if d.prepared is not None]
    return [[p.blob for p in prepared], [p.size for p in prepared], [clean(p.subject) for p in prepared],
            [clean(p.from_) for p in prepared], [p.date for p in prepared],
            [clean(p.header_message_id) for p in prepared], [clean(p.structure_json) for p in prepared],
            [clean(p.thread_refs) for p in prepared], [d.raw for d in batch],
            [clean((p.base_subject or (None, False))[0]) for p in prepared],
            [(p.base_subject or (None, False))[1] for p in prepared]]


def _outcome(mailbox_id: int, row: asyncpg.Record) -> Appended | Refused:
    uid, modseq, uidvalidity, refusal = row
    if refusal is not None:
        return Refused(mailbox_id, _REFUSALS[refusal](mailbox_id))
    return Appended(mailbox_id, uid, modseq, uidvalidity)
