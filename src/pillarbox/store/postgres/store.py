"""The scale-out store: PostgreSQL behind ``store.api.Store``, shared by every node of a cluster.

Nodes share nothing but the database: bodies live in it, the change feed is LISTEN/NOTIFY, queue
leases are rows taken with SKIP LOCKED. Each write is one transaction, acknowledged after COMMIT
(principle 7); concurrent commits share WAL flushes in PostgreSQL itself (its group commit). Reads
of several statements run in one REPEATABLE READ snapshot. A lost server becomes ``StoreUnavailable``
(``connection.py``) and the pool reconnects by itself.

Local deliveries go in batches (``batch.py``: the group commit of a node, one statement per batch).
Those that also queue for elsewhere lock their target mailboxes in call order (``_take_turn``): UIDs
follow arrival on a node, as on SQLite (an mbox import keeps its order); such a delivery waits only for
earlier ones to the same mailboxes, so deliveries to other mailboxes overlap.

This module keeps the store's life, mailboxes, messages and search; the directory (``directory_methods``),
the queue with the login and report data (``queue_methods``), web data, antispam, Sieve and sharing come
in as mixins, each beside the table modules it calls.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import asyncpg

from pillarbox.errors import NotFound, StoreError
from pillarbox.store import prepare as preparing
from pillarbox.store.api import FlagMode, SummaryField
from pillarbox.store.names import canonical_name, internal_date_columns
from pillarbox.store.postgres import acl, fulltext, integrity, mailboxes, messages, queue, sieve
from pillarbox.store.postgres.antispam_methods import AntispamMethods
from pillarbox.store.postgres.batch import DeliveryBatcher
from pillarbox.store.postgres.connection import Database, create_pool
from pillarbox.store.postgres.copy_in import Progress, copy_from_sqlite
from pillarbox.store.postgres.directory_methods import DirectoryMethods
from pillarbox.store.postgres.feed import NotifyChangeFeed
from pillarbox.store.postgres.locks import (
    AdvisoryDestinationSlots,
    AdvisoryLeadership,
    AdvisoryMaildropLocks,
    LockConnection,
)
from pillarbox.store.postgres.messages import NewEntry
from pillarbox.store.postgres.queue_methods import QueueMethods
from pillarbox.store.postgres.schema import migrate
from pillarbox.store.postgres.webdata import WebData
from pillarbox.store.prepare import PreparedMessage, index_texts, prepare
from pillarbox.store.records import (
    Appended,
    Changes,
    DeliveryOutcome,
    DeliveryTarget,
    IndexBacklog,
    Mailbox,
    MessageColumns,
    MessageEntry,
    MessageSummary,
    OutboundRequest,
    Refused,
    StoreFlagsResult,
)

T = TypeVar("T")
Conn = asyncpg.Connection
DEFAULT_POOL_SIZE = 20
HEALTH_TIMEOUT = 2.0


class PostgresStore(DirectoryMethods, QueueMethods, WebData, AntispamMethods, sieve.SieveTables, acl.SharingTables):
    """Open with ``await PostgresStore.open(url)``; close with ``await store.close()``."""

    def __init__(self, url: str, db: Database, changes: NotifyChangeFeed, clock: Callable[[], float],
                 defer_flags: bool = True) -> None:
        self.url = url
        self._db = db
        self.changes = changes
        self._clock = clock
        self._turns: dict[int, asyncio.Future[None]] = {}  # mailbox id -> the latest delivery's turn
        self._locks = LockConnection(url)
        self._maildrop_locks = AdvisoryMaildropLocks(self._locks, clock)
        self._leadership = AdvisoryLeadership(self._locks)
        self._destination_slots = AdvisoryDestinationSlots(self._locks)
        self._batcher = DeliveryBatcher(db, self._seconds)
        self.defer_flags = defer_flags
        """Flag changes commit without waiting for the WAL flush (``[store] flag_flush_delay`` > 0)."""

    @classmethod
    async def open(
        cls, url: str, clock: Callable[[], float] = time.time, pool_size: int = DEFAULT_POOL_SIZE,
        defer_flags: bool = True,
    ) -> PostgresStore:
        """Connect (StoreUnavailable, one line, when the server refuses or cannot be reached), bring the
        schema up to date and start listening for changes. ``defer_flags``: see ``defer_flags``."""
        pool = await create_pool(url, pool_size)
        db = Database(pool)
        try:
            await db.read(migrate)
            feed = NotifyChangeFeed(url, lambda ids: db.read(lambda c: _highest_of(c, ids)))
            store = cls(url, db, feed, clock, defer_flags)
            await store.changes.start()
        except BaseException:
            await db.close()
            raise
        return store

    async def close(self) -> None:
        await self._maildrop_locks.close()
        await self._locks.close()
        await self.changes.close()
        await self._db.close()

    def has_room(self, incoming: int = 0) -> bool:
        """Always: PostgreSQL keeps its own disk; a full one refuses the write, which is StorageFull."""
        return True

    def maildrop_locks(self) -> AdvisoryMaildropLocks:
        return self._maildrop_locks

    def leadership(self) -> AdvisoryLeadership:
        return self._leadership

    def destination_slots(self) -> AdvisoryDestinationSlots:
        return self._destination_slots

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def _seconds(self) -> int:
        return int(self._clock())

    def _read(self, fn: Callable[[Conn], Awaitable[T]], snapshot: bool = False) -> Awaitable[T]:
        return self._db.read(fn, snapshot)

    def _write(self, fn: Callable[[Conn], Awaitable[T]]) -> Awaitable[T]:
        return self._db.write(fn)

    def _write_deferred(self, fn: Callable[[Conn], Awaitable[T]]) -> Awaitable[T]:
        """A write whose loss in a crash loses no mail (the login throttle's bookkeeping): it commits
        without waiting for the WAL flush, unless ``defer_flags`` is off. Never one that takes a MODSEQ
        (``mailboxes.deferred_modseq`` is for those)."""
        if not self.defer_flags:
            return self._db.write(fn)

        async def deferred(conn: Conn) -> T:
            await mailboxes.defer_commit(conn)
            return await fn(conn)

        return self._db.write(deferred)

    async def _directory_write(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        result = await self._write(fn)
        self.changes.directory_changed()  # this node's caches at once; the others hear the NOTIFY
        return result

    async def healthy(self) -> bool:
        try:
            answer = await asyncio.wait_for(self._read(lambda c: c.fetchval("SELECT 1")), HEALTH_TIMEOUT)
        except Exception:
            return False
        return answer == 1 and self.changes.listening

    async def copy_in_sqlite(self, data_dir: Path, progress: Progress | None = None) -> dict[str, int]:
        """Fill this (empty) database with the SQLite store in ``data_dir``; rows copied per table."""
        async with self._db.connection(timeout=None) as conn:
            return await copy_from_sqlite(data_dir, conn, progress)

    async def find_problems(self) -> list[str]:
        """Consistency report (empty when all is well); see ``integrity``."""
        return await self._read(integrity.find_problems, snapshot=True)

    # mailboxes
    async def list_mailboxes(self, account_id: int) -> list[Mailbox]:
        return await self._read(lambda c: mailboxes.list_mailboxes(c, account_id))

    async def get_mailbox(self, account_id: int, name: str) -> Mailbox | None:
        return await self._read(lambda c: mailboxes.get_mailbox(c, account_id, name))

    async def get_mailbox_by_id(self, mailbox_id: int) -> Mailbox | None:
        return await self._read(lambda c: mailboxes.get_mailbox_by_id(c, mailbox_id))

    async def create_mailbox(self, account_id: int, name: str, special_use: str | None = None) -> Mailbox:
        now = self._seconds()
        return await self._write(lambda c: mailboxes.create_mailbox(c, account_id, name, special_use, now))

    async def delete_mailbox(self, account_id: int, name: str) -> None:
        async def delete(conn: Conn) -> None:
            if canonical_name(name) == "INBOX":
                raise StoreError("INBOX cannot be deleted")
            mailbox = await mailboxes.require_mailbox(conn, account_id, name)
            await messages.drop_mailbox_messages(conn, mailbox.id)
            await mailboxes.remove_mailbox_row(conn, mailbox.id)
        await self._write(delete)

    async def rename_mailbox(self, account_id: int, old: str, new: str) -> None:
        now = self._seconds()

        async def rename(conn: Conn) -> None:
            if canonical_name(old) != "INBOX":
                await mailboxes.rename_mailbox(conn, account_id, old, new)
                return
            # RFC 9051 6.3.6: renaming INBOX moves its messages to the new name and leaves it empty
            inbox = await mailboxes.require_mailbox(conn, account_id, "INBOX")
            target = await mailboxes.create_mailbox(conn, account_id, new, None, now)
            uids = [e.uid for e in await messages.list_entries(conn, inbox.id)]
            await messages.move_messages(conn, inbox.id, uids, target.id, now)
        await self._write(rename)

    async def subscribed_without_mailbox(self, account_id: int) -> list[str]:
        return await self._read(lambda c: mailboxes.subscribed_without_mailbox(c, account_id))

    async def claim_recent(self, mailbox_id: int, through_uid: int) -> int:
        return await self._write(lambda c: mailboxes.claim_recent(c, mailbox_id, through_uid, self.defer_flags))

    async def set_subscribed(self, account_id: int, name: str, subscribed: bool, must_exist: bool = True) -> None:
        await self._write(lambda c: mailboxes.set_subscribed(c, account_id, name, subscribed, must_exist))

    # messages
    async def deliver(self, raw: bytes, targets: Sequence[DeliveryTarget]) -> list[Appended | Refused]:
        """Store one copy of ``raw`` and put it in every target mailbox; durable on return.
        Each target succeeds or fails alone (a recipient over quota does not stop the others)."""
        outcome = await self.deliver_and_queue(raw, targets)
        return list(outcome.results)

    async def deliver_and_queue(
        self,
        raw: bytes,
        targets: Sequence[DeliveryTarget],
        outbound: OutboundRequest | None = None,
        outbound_raw: bytes | None = None,
    ) -> DeliveryOutcome:
        """Local copies and the outbound queue entry of one message, in one transaction.
        ``outbound_raw``: the queued copy's bytes when they differ from the local copies'. Local
        deliveries alone join the node's group commit (``batch.py``)."""
        if outbound is None and targets:
            now = self._seconds()
            delivery = self._batcher.enter(raw, targets, [internal_date_columns(t.internal_date, now) for t in targets])
            try:
                prepared = await prepare(raw)
            except BaseException:
                self._batcher.leave(delivery)
                raise
            return DeliveryOutcome(await self._batcher.deliver(delivery, prepared), None)
        previous, mine = self._take_turn([t.mailbox_id for t in targets])
        try:
            prepared = await prepare(raw) if targets else None
            queued_raw = outbound_raw if outbound_raw is not None else raw
            queued = None
            if outbound is not None:
                queued = prepared if outbound_raw is None and prepared else await prepare(queued_raw)
            for earlier in previous:
                await earlier
            now = self._seconds()

            async def deliver(conn: Conn) -> DeliveryOutcome:
                await mailboxes.lock(conn, [t.mailbox_id for t in targets])
                if not mine.done():
                    mine.set_result(None)  # the next delivery may lock now: its UIDs come after ours
                return await _deliver(conn, raw, prepared, targets, now, outbound, queued, queued_raw)
            return await self._write(deliver)
        finally:
            if not mine.done():
                mine.set_result(None)

    def _take_turn(self, mailbox_ids: Sequence[int]) -> tuple[list[asyncio.Future[None]], asyncio.Future[None]]:
        """The turns of the earlier deliveries to these mailboxes still to lock, and this one's turn."""
        loop = asyncio.get_running_loop()
        previous = [turn for m in set(mailbox_ids) if (turn := self._turns.get(m)) is not None
                    and turn.get_loop() is loop and not turn.done()]
        mine: asyncio.Future[None] = loop.create_future()
        for mailbox_id in set(mailbox_ids):
            self._turns[mailbox_id] = mine
        mine.add_done_callback(lambda _: self._forget_turn(mailbox_ids, mine))
        return previous, mine

    def _forget_turn(self, mailbox_ids: Sequence[int], turn: asyncio.Future[None]) -> None:
        for mailbox_id in set(mailbox_ids):
            if self._turns.get(mailbox_id) is turn:
                del self._turns[mailbox_id]

    async def list_messages(self, mailbox_id: int, uid_min: int = 1, uid_max: int | None = None) -> list[MessageEntry]:
        return await self._read(lambda c: messages.list_entries(c, mailbox_id, uid_min, uid_max))

    async def list_columns(self, mailbox_id: int) -> MessageColumns:
        return await self._read(lambda c: messages.list_columns(c, mailbox_id), snapshot=True)

    async def get_summaries(self, message_ids: Sequence[int], structure: bool = True) -> dict[int, MessageSummary]:
        return await self._read(lambda c: messages.summaries(c, message_ids, structure))

    async def read_message(self, message_id: int) -> bytes:
        return await self._read(lambda c: messages.body_of(c, message_id))

    async def read_by_uids(self, mailbox_id: int, uids: Sequence[int]) -> dict[int, bytes]:
        return await self._read(lambda c: messages.bodies_of_uids(c, mailbox_id, uids))

    async def store_flags(
        self, mailbox_id: int, uids: Sequence[int], mode: FlagMode, flags: Iterable[str],
        unchanged_since: int | None = None,
    ) -> StoreFlagsResult:
        wanted = list(flags)
        return await self._write(
            lambda c: messages.store_flags(c, mailbox_id, uids, mode, wanted, unchanged_since, self.defer_flags))

    async def expunge(self, mailbox_id: int, uids: Sequence[int]) -> list[int]:
        return await self._write(lambda c: messages.expunge(c, mailbox_id, uids))

    async def copy(self, src_mailbox_id: int, uids: Sequence[int], dst_mailbox_id: int) -> list[tuple[int, int]]:
        now = self._seconds()
        return await self._write(lambda c: messages.copy_messages(c, src_mailbox_id, uids, dst_mailbox_id, now))

    async def move(self, src_mailbox_id: int, uids: Sequence[int], dst_mailbox_id: int) -> list[tuple[int, int]]:
        now = self._seconds()
        return await self._write(lambda c: messages.move_messages(c, src_mailbox_id, uids, dst_mailbox_id, now))

    async def changes_since(self, mailbox_id: int, modseq: int) -> Changes:
        return await self._read(lambda c: messages.changes_since(c, mailbox_id, modseq), snapshot=True)

    async def append_messages(self, mailbox_id: int, batch: Sequence[tuple[bytes, DeliveryTarget]]) -> list[Appended]:
        """Append several messages to one mailbox in one transaction: all are stored or none
        (RFC 3502 MULTIAPPEND); raises QuotaExceeded/NotFound and then nothing was stored."""
        prepared = [await prepare(raw) for raw, _ in batch]
        now = self._seconds()

        async def append_all(conn: Conn) -> list[Appended]:
            await mailboxes.lock(conn, [mailbox_id])
            new = []
            for (raw, target), one in zip(batch, prepared, strict=True):
                message_id = await messages.insert_message(conn, one, raw, now)
                new.append(_new_entry(message_id, len(raw), target, now))
            return await messages.append_entries(conn, mailbox_id, new, now)
        return await self._write(append_all)

    async def replace_message(self, raw: bytes, target: DeliveryTarget, replaced: tuple[int, int]) -> Appended:
        """RFC 8508 3.4: the expunge first, so the quota sees only the net growth; all or nothing."""
        prepared = await prepare(raw)
        now = self._seconds()

        async def replace(conn: Conn) -> Appended:
            await mailboxes.lock(conn, sorted({replaced[0], target.mailbox_id}))
            if not await messages.expunge(conn, replaced[0], [replaced[1]]):
                raise NotFound("the message to replace is gone")
            message_id = await messages.insert_message(conn, prepared, raw, now)
            new = _new_entry(message_id, len(raw), target, now)
            return (await messages.append_entries(conn, target.mailbox_id, [new], now))[0]
        return await self._write(replace)

    # search
    async def search_text(self, mailbox_id: int, needle: str, fields: tuple[str, ...]) -> set[int]:
        """UIDs of the mailbox whose headers and/or body text contain ``needle``, any case or accents."""
        columns = tuple(f for f in fields if f in ("headers", "body"))
        while await self.index_pending(mailbox_id):  # what the background indexer has not reached yet
            pass
        return await self._read(lambda c: fulltext.search_text(c, mailbox_id, columns, needle))

    async def search_summary(self, mailbox_id: int, field: SummaryField, needle: str) -> set[int]:
        return await self._read(lambda c: messages.search_summary(c, mailbox_id, field, needle))

    async def index_backlog(self) -> IndexBacklog:
        return await self._read(fulltext.backlog, snapshot=True)

    async def index_pending(self, mailbox_id: int | None = None) -> int:
        """Index one batch of messages waiting for the full-text index (only ``mailbox_id``'s if given);
        returns how many left the backlog (also those another node indexed meanwhile), 0 when none waits."""
        limit, max_bytes = preparing.INDEX_BATCH, preparing.INDEX_BATCH_BYTES
        batch = await self._read(lambda c: fulltext.pending(c, limit, max_bytes, mailbox_id))
        if not batch:
            return 0
        texts = await asyncio.to_thread(
            index_texts, [(i, (lambda body=body: body), structure) for i, body, structure in batch])
        await self._write(lambda c: fulltext.record(c, texts))
        return len(batch)

    async def dates_and_subjects(self, mailbox_id: int) -> dict[int, tuple[int | None, str]]:
        return await self._read(lambda c: messages.dates_and_subjects(c, mailbox_id))

    async def sort_fields(self, mailbox_id: int) -> dict[int, tuple[int | None, str]]:
        return await self._read(lambda c: messages.sort_fields(c, mailbox_id))

    async def thread_fields(
        self, mailbox_id: int
    ) -> dict[int, tuple[int | None, tuple[str, bool], str | None, str | None]]:
        return await self._read(lambda c: messages.thread_fields(c, mailbox_id))

def _new_entry(message_id: int, size: int, target: DeliveryTarget, now: int) -> NewEntry:
    return NewEntry(message_id, size, target.flags, *internal_date_columns(target.internal_date, now))


async def _deliver(
    conn: Conn, raw: bytes, prepared: PreparedMessage | None, targets: Sequence[DeliveryTarget], now: int,
    outbound: OutboundRequest | None, queued: PreparedMessage | None, queued_raw: bytes,
) -> DeliveryOutcome:
    message_id = await messages.insert_message(conn, prepared, raw, now) if prepared is not None else None
    results = tuple([await _append_one(conn, t, message_id, len(raw), now) for t in targets] if message_id else [])
    queue_id = None
    if outbound is not None and queued is not None:
        queued_id = message_id if queued is prepared else await messages.insert_message(conn, queued, queued_raw, now)
        assert queued_id is not None
        queue_id = await queue.enqueue(conn, queued_id, outbound, now)
    if message_id is not None and queue_id is None and not any(isinstance(r, Appended) for r in results):
        await messages.drop_unreferenced(conn, message_id)  # no taker: drop it again
    return DeliveryOutcome(results, queue_id)


async def _append_one(conn: Conn, target: DeliveryTarget, message_id: int, size: int, now: int) -> Appended | Refused:
    # no savepoint needed: append_entries refuses (NotFound, QuotaExceeded) before it writes anything
    try:
        return (await messages.append_entries(conn, target.mailbox_id, [_new_entry(message_id, size, target, now)],
                                              now))[0]
    except StoreError as exc:
        return Refused(target.mailbox_id, exc)


async def _highest_of(conn: Conn, mailbox_ids: list[int]) -> dict[int, int]:
    rows = await conn.fetch("SELECT id, highestmodseq FROM mailboxes WHERE id = ANY($1::bigint[])", mailbox_ids)
    return {row[0]: row[1] for row in rows}
