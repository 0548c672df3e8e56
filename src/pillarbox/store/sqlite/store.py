"""The embedded store: SQLite in WAL mode plus a blob folder, behind ``store.api.Store``.

Reads run on a small thread pool, each thread with its own connection (WAL readers never block the
writer or each other). Every write goes through the one group-commit writer thread. Several
processes may open the same data_dir (``serve`` and the admin CLI): SQLite's locks serialise their
writers and the change feed notices the other side's commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TypeVar

from pillarbox.address import mailbox_address, normalize_address, normalize_domain
from pillarbox.config import DEFAULT_FLAG_FLUSH_DELAY, DEFAULT_MIN_FREE_SPACE
from pillarbox.errors import NotFound, StorageFull, StoreError
from pillarbox.obs import get_logger
from pillarbox.store import prepare as preparing
from pillarbox.store.api import FlagMode, SummaryField
from pillarbox.store.blobs import BlobStore
from pillarbox.store.files import create_private_file, make_private_dirs
from pillarbox.store.names import canonical_name, internal_date_columns, normalize_alias
from pillarbox.store.prepare import index_texts, prepare
from pillarbox.store.records import (
    Account,
    Alias,
    Appended,
    CachedPolicy,
    Changes,
    Credentials,
    DeliveryOutcome,
    DeliveryTarget,
    DKIMKey,
    Domain,
    IndexBacklog,
    Mailbox,
    MessageColumns,
    MessageEntry,
    MessageSummary,
    OutboundRequest,
    QueuedMessage,
    QueueSummary,
    RecipientUpdate,
    Refused,
    SenderGrant,
    SharedMailbox,
    StoreFlagsResult,
)
from pillarbox.store.reserve import DiskReserve, free_bytes
from pillarbox.store.sqlite import (
    acl,
    directory,
    dmarc,
    fulltext,
    grants,
    integrity,
    logins,
    mailboxes,
    messages,
    metadata,
    orphans,
    queue,
    sieve,
    spam,
)
from pillarbox.store.sqlite.antispam_methods import AntispamMethods
from pillarbox.store.sqlite.checkpoint import Checkpointer
from pillarbox.store.sqlite.counters import next_uidvalidity
from pillarbox.store.sqlite.deferred import DeferredFlush, current_boot, recover_after_reboot
from pillarbox.store.sqlite.feed import PollingChangeFeed
from pillarbox.store.sqlite.file_locks import FileDestinationSlots, FileLeadership, FileLocks
from pillarbox.store.sqlite.maildrop_locks import FileMaildropLocks
from pillarbox.store.sqlite.schema import migrate
from pillarbox.store.sqlite.wakeup import CommitWakeup
from pillarbox.store.sqlite.webdata import WebData
from pillarbox.store.sqlite.writer import GroupCommitWriter, Txn
from pillarbox.store.textfold import fold

T = TypeVar("T")
log = get_logger("store")
BUSY_TIMEOUT_MS = 30_000


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")  # a commit is on disk when COMMIT returns
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


class SQLiteStore(WebData, AntispamMethods, sieve.SieveTables):
    """Open with ``SQLiteStore.open(data_dir)``; close with ``await store.close()``."""

    def __init__(
        self, data_dir: Path, clock: Callable[[], float] = time.time, readers: int = 4, checkpoints: bool = True,
        min_free_space: int = DEFAULT_MIN_FREE_SPACE, free_space: Callable[[Path], int] = free_bytes,
        flag_flush_delay: float = DEFAULT_FLAG_FLUSH_DELAY,
    ) -> None:
        """``checkpoints``: run the WAL checkpointer here; with several server processes only the
        primary does (the WAL is shared, and a second one only adds flushes of the database file).
        ``min_free_space``: new mail is refused when it would leave less free (``store/reserve.py``).
        ``flag_flush_delay``: flag changes are durable within this many seconds (``deferred.py``);
        0 flushes each before its reply."""
        self.data_dir = data_dir
        self._clock = clock
        make_private_dirs(data_dir)
        self.db_path = data_dir / "pillarbox.sqlite3"
        create_private_file(self.db_path)  # before SQLite does, with the umask's mode (its WAL copies the mode)
        # closed here, not left to the garbage collector: Python's statement cache makes every connection
        # part of a reference cycle, and one left open keeps the WAL and -shm its process once opened
        # (deleted and replaced since, its later connections read that stale WAL index)
        with contextlib.closing(connect(self.db_path)) as conn:
            migrate(conn)
            recover_after_reboot(conn, current_boot())
        self.blobs = BlobStore(data_dir / "blobs")
        self.reserve = DiskReserve(data_dir, min_free_space, free_space)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._pool = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="pillarbox-store-read")
        self._wakeup = CommitWakeup(data_dir / "wake")
        self.changes = PollingChangeFeed(self._mailboxes_changed_since, self._wakeup)
        self._deferred = DeferredFlush(flag_flush_delay)
        self._writer = GroupCommitWriter(
            self._writer_connection, self.blobs, self._committed, data_dir / "write.lock", self.reserve,
            self._deferred)
        wal = Path(f"{self.db_path}-wal")
        self._checkpointer = Checkpointer(
            lambda: connect(self.db_path), wal, data_dir / "write.lock") if checkpoints else None
        self._last_turn: asyncio.Future[None] | None = None
        self._version_conn: sqlite3.Connection | None = None
        self._maildrop_locks = FileMaildropLocks(data_dir / "pop3", clock)
        self._locks = FileLocks(data_dir / "locks")
        self._leadership = FileLeadership(self._locks)
        self._destination_slots = FileDestinationSlots(self._locks)

    @classmethod
    def open(
        cls, data_dir: Path, clock: Callable[[], float] = time.time, checkpoints: bool = True,
        min_free_space: int = DEFAULT_MIN_FREE_SPACE, flag_flush_delay: float = DEFAULT_FLAG_FLUSH_DELAY,
    ) -> SQLiteStore:
        return cls(Path(data_dir), clock, checkpoints=checkpoints, min_free_space=min_free_space,
                   flag_flush_delay=flag_flush_delay)

    def has_room(self, incoming: int = 0) -> bool:
        """False when ``incoming`` more bytes of new mail would leave less free than the reserve."""
        try:
            return self.reserve.has_room(incoming)
        except OSError:
            return True  # free space unknown: the write itself will tell

    def _committed(self) -> None:
        """After every commit, in the writer thread: this process's feed, and the others'."""
        self.changes.poke()
        self._wakeup.notify_others()

    def _writer_connection(self) -> sqlite3.Connection:
        conn = connect(self.db_path)
        conn.execute("PRAGMA wal_autocheckpoint = 0")  # the Checkpointer does it, off the commit path
        return conn

    async def close(self) -> None:
        self._maildrop_locks.close()
        self._locks.close()
        await self.changes.close()
        await asyncio.to_thread(self._writer.close)
        self._wakeup.close()
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.close)
        self._pool.shutdown(wait=True)
        for conn in self._connections:
            conn.close()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def maildrop_locks(self) -> FileMaildropLocks:
        return self._maildrop_locks

    def leadership(self) -> FileLeadership:
        return self._leadership

    def destination_slots(self) -> FileDestinationSlots:
        return self._destination_slots

    def _seconds(self) -> int:
        return int(self._clock())

    @property
    def commit_stats(self) -> tuple[int, int]:
        """(batches committed, jobs committed): the group-commit ratio, for metrics and benchmarks."""
        return self._writer.batches, self._writer.jobs_done

    # plumbing
    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.db_path)
            self._local.conn = conn
            self._connections.append(conn)
        return conn

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: _in_read_txn(self._reader(), fn))

    async def _read_now(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """A read of a few rows found through an index, right here on the caller's thread (the event
        loop). A hop to the pool costs more than such a query: two thread switches, and a wait of up
        to the interpreter's switch interval (5 ms) for the GIL while the loop is busy with other
        sessions; that wait was most of an IMAP command's latency. WAL readers never wait for writers."""
        return _in_read_txn(self._reader(), fn)

    async def _write(self, fn: Callable[[Txn], T], blobs: dict[str, bytes] | None = None, grows: int = 0) -> T:
        return await self._writer.submit(fn, blobs, grows)

    async def _write_deferred(self, fn: Callable[[Txn], T], grows: int = 0) -> T:
        """A write whose loss in a crash loses no mail (flags, marks, index rows): it may ride the next
        flush, within ``flag_flush_delay`` (``deferred.py``)."""
        return await self._writer.submit(fn, grows=grows, durable=False)

    async def find_problems(self) -> list[str]:
        """Consistency report (empty when all is well); see ``integrity``."""
        return await self._read(lambda c: integrity.find_problems(c, self.blobs))

    async def orphan_blobs(self) -> list[Path]:
        """Blob files no row names (a refused delivery or a crash left them); see ``orphans``."""
        return await self._read(lambda c: orphans.find_orphans(c, self.blobs, self._clock()))

    async def remove_orphan_blobs(self) -> int:
        return await self._read(
            lambda c: orphans.remove_orphans(c, self.blobs, self.data_dir / "write.lock", self._clock()))

    async def healthy(self) -> bool:
        try:
            return await self._read(lambda c: c.execute("SELECT 1").fetchone() == (1,))
        except sqlite3.Error:
            return False

    async def _mailboxes_changed_since(self, modseq: int) -> tuple[int, list[tuple[int, int]]]:
        def query(conn: sqlite3.Connection) -> tuple[int, list[tuple[int, int]]]:
            last = conn.execute("SELECT value FROM counters WHERE name = 'modseq'").fetchone()[0]
            rows = conn.execute(
                "SELECT id, highestmodseq FROM mailboxes WHERE highestmodseq > ?", (modseq,)
            ).fetchall()
            return last, rows
        return await self._read_now(query)

    # domains
    async def add_domain(self, name: str) -> Domain:
        name, now = normalize_domain(name), self._seconds()
        return await self._write(lambda t: directory.add_domain(t, name, now))

    async def list_domains(self) -> list[Domain]:
        return await self._read(directory.list_domains)

    async def delete_domain(self, name: str) -> None:
        name = normalize_domain(name)
        await self._write(lambda t: directory.delete_domain(t, name))

    def directory_version(self) -> int:
        """Raised by every change to domains, accounts and aliases, by any process (schema triggers).

        Synchronous on purpose, for the event loop: one indexed read of a page SQLite has cached, and
        in WAL mode a reader never waits for a writer. It saves the thread hop per lookup it guards.
        """
        if self._version_conn is None:
            self._version_conn = connect(self.db_path)
            self._connections.append(self._version_conn)
        row = self._version_conn.execute("SELECT value FROM counters WHERE name = 'directory'").fetchone()
        return int(row[0])

    async def has_domain(self, name: str) -> bool:
        name = normalize_domain(name)
        return await self._read_now(lambda c: directory.domain_id(c, name) is not None)

    # accounts
    async def add_account(self, address: str, password_hash: str, scram_sha256: str | None) -> Account:
        address, now = mailbox_address(address), self._seconds()  # a new address: RFC 5321 Mailbox

        def add(txn: Txn) -> Account:
            first_uidvalidity = next_uidvalidity(txn.conn, now, count=6)
            return directory.add_account(txn, address, password_hash, scram_sha256, now, first_uidvalidity)
        return await self._write(add)

    async def get_account(self, address: str) -> Account | None:
        address = normalize_address(address)
        return await self._read_now(lambda c: directory.get_account(c, address))

    async def list_accounts(self) -> list[Account]:
        return await self._read(directory.list_accounts)

    async def delete_account(self, address: str) -> None:
        address = normalize_address(address)

        def delete(txn: Txn) -> None:
            account_id = directory.require_account_id(txn.conn, address)
            for mailbox in mailboxes.list_mailboxes(txn.conn, account_id):
                messages.drop_mailbox_messages(txn, mailbox.id)
                mailboxes.remove_mailbox_row(txn, mailbox.id)
            txn.conn.execute("DELETE FROM subscriptions WHERE account_id = ?", (account_id,))
            grants.delete_account_grants(txn, account_id)
            spam.forget_account(txn, account_id)
            sieve.delete_account_rows(txn, account_id)
            txn.conn.execute("DELETE FROM accounts WHERE id = ?", (account_id,))
        await self._write(delete)

    async def set_password(self, address: str, password_hash: str, scram_sha256: str | None) -> None:
        address = normalize_address(address)
        await self._write(lambda t: directory.set_password(t, address, password_hash, scram_sha256))

    async def replace_credentials(
        self, address: str, old_hash: str, password_hash: str, scram_sha256: str | None
    ) -> bool:
        """Set new credentials only if the stored hash is still ``old_hash``; False if it changed meanwhile."""
        address = normalize_address(address)
        return await self._write(
            lambda t: directory.replace_credentials(t, address, old_hash, password_hash, scram_sha256))

    async def set_quota(self, address: str, quota_bytes: int | None, quota_messages: int | None) -> None:
        address = normalize_address(address)
        await self._write(lambda t: directory.set_quota(t, address, quota_bytes, quota_messages))

    async def set_admin(self, address: str, admin: bool) -> None:
        address = normalize_address(address)
        await self._write(lambda t: directory.set_admin(t, address, admin))

    async def set_pop3_policy(self, address: str, delete_after_days: int | None) -> None:
        address = normalize_address(address)
        await self._write(lambda t: directory.set_pop3_policy(t, address, delete_after_days))

    async def get_credentials(self, address: str) -> Credentials | None:
        address = normalize_address(address)
        return await self._read_now(lambda c: directory.get_credentials(c, address))

    async def account_usage(self, account_id: int) -> tuple[int, int]:
        return await self._read_now(lambda c: directory.account_usage(c, account_id))

    # aliases
    async def add_alias(self, address: str, targets: Sequence[str], replace: bool = False) -> Alias:
        address = normalize_alias(address, mailbox_address)
        normalized = [mailbox_address(t) for t in targets]
        if not normalized:
            raise StoreError("an alias needs at least one target")
        return await self._write(lambda t: directory.add_alias(t, address, normalized, replace))

    async def get_alias(self, address: str) -> Alias | None:
        address = normalize_alias(address)
        targets = await self._read_now(lambda c: directory.alias_targets(c, address))
        return Alias(address, targets) if targets else None

    async def list_aliases(self) -> list[Alias]:
        return await self._read(directory.list_aliases)

    async def delete_alias(self, address: str) -> None:
        address = normalize_alias(address)
        await self._write(lambda t: directory.delete_alias(t, address))

    # sender grants
    async def add_sender_grant(self, user: str, address: str) -> SenderGrant:
        user, address = normalize_address(user), normalize_alias(address, mailbox_address)
        return await self._write(lambda t: grants.add(t, user, address))

    async def delete_sender_grant(self, user: str, address: str) -> None:
        user, address = normalize_address(user), normalize_alias(address)
        await self._write(lambda t: grants.delete(t, user, address))

    async def sender_grants(self, user: str) -> tuple[str, ...]:
        user = normalize_address(user)
        return await self._read_now(lambda c: grants.of_account(c, user))

    async def list_sender_grants(self) -> list[SenderGrant]:
        return await self._read(grants.list_all)

    # mailboxes
    async def list_mailboxes(self, account_id: int) -> list[Mailbox]:
        return await self._read_now(lambda c: mailboxes.list_mailboxes(c, account_id))

    async def get_mailbox(self, account_id: int, name: str) -> Mailbox | None:
        return await self._read_now(lambda c: mailboxes.get_mailbox(c, account_id, name))

    async def get_mailbox_by_id(self, mailbox_id: int) -> Mailbox | None:
        return await self._read_now(lambda c: mailboxes.get_mailbox_by_id(c, mailbox_id))

    async def create_mailbox(self, account_id: int, name: str, special_use: str | None = None) -> Mailbox:
        now = self._seconds()
        return await self._write(lambda t: mailboxes.create_mailbox(t, account_id, name, special_use, now))

    async def delete_mailbox(self, account_id: int, name: str) -> None:
        def delete(txn: Txn) -> None:
            if canonical_name(name) == "INBOX":
                raise StoreError("INBOX cannot be deleted")
            mailbox = mailboxes.require_mailbox(txn.conn, account_id, name)
            messages.drop_mailbox_messages(txn, mailbox.id)
            mailboxes.remove_mailbox_row(txn, mailbox.id)
        await self._write(delete)

    async def list_metadata(self, account_id: int, mailbox_id: int | None) -> dict[str, bytes]:
        return await self._read(lambda c: metadata.list_metadata(c, account_id, mailbox_id or 0))

    async def get_acl(self, mailbox_id: int) -> dict[str, str]:
        return await self._read(lambda c: acl.get_acl(c, mailbox_id))

    async def set_acl(self, mailbox_id: int, identifier: str, rights: str | None) -> None:
        await self._write(lambda t: acl.set_acl(t, mailbox_id, identifier, rights))

    async def shared_with(self, address: str) -> list[SharedMailbox]:
        return await self._read(lambda c: acl.shared_with(c, normalize_address(address)))

    async def tls_seen(self, domain: str) -> int:
        def read(conn: sqlite3.Connection) -> int:
            row = conn.execute("SELECT level FROM tls_seen WHERE domain = ?", (domain.lower(),)).fetchone()
            return row[0] if row else 0
        return await self._read(read)

    async def raise_tls_seen(self, domain: str, level: int) -> None:
        now = self._seconds()
        await self._write(lambda t: t.conn.execute(
            "INSERT INTO tls_seen (domain, level, updated) VALUES (?, ?, ?) ON CONFLICT (domain) DO UPDATE"
            " SET level = excluded.level, updated = excluded.updated WHERE excluded.level > tls_seen.level",
            (domain.lower(), level, now)))

    async def forget_tls_seen(self, domain: str) -> bool:
        return await self._write(lambda t: t.conn.execute(
            "DELETE FROM tls_seen WHERE domain = ?", (domain.lower(),)).rowcount > 0)

    async def list_tls_seen(self) -> list[tuple[str, int, int]]:
        return await self._read(lambda c: [tuple(row) for row in c.execute(  # type: ignore[misc]
            "SELECT domain, level, updated FROM tls_seen ORDER BY domain")])

    async def urlauth_key(self, mailbox_id: int, reset: bool = False) -> bytes:
        def key(txn: Txn) -> bytes:
            row = None if reset else txn.conn.execute(
                "SELECT key FROM urlauth_keys WHERE mailbox_id = ?", (mailbox_id,)).fetchone()
            if row is not None:
                return bytes(row[0])
            fresh = secrets.token_bytes(32)
            txn.conn.execute("INSERT OR REPLACE INTO urlauth_keys (mailbox_id, key) VALUES (?, ?)", (mailbox_id, fresh))
            return fresh
        return await self._write(key)

    async def account_metadata(self, account_id: int) -> dict[int, dict[str, bytes]]:
        return await self._read(lambda c: metadata.account_metadata(c, account_id))

    async def set_metadata(
        self, account_id: int, mailbox_id: int | None, changes: Sequence[tuple[str, bytes | None]], max_entries: int
    ) -> None:
        await self._write(lambda t: metadata.set_metadata(t, account_id, mailbox_id or 0, changes, max_entries))

    async def rename_mailbox(self, account_id: int, old: str, new: str) -> None:
        now = self._seconds()

        def rename(txn: Txn) -> None:
            if canonical_name(old) != "INBOX":
                mailboxes.rename_mailbox(txn, account_id, old, new)
                return
            # RFC 9051 6.3.6: renaming INBOX moves its messages to the new name and leaves it empty
            inbox = mailboxes.require_mailbox(txn.conn, account_id, "INBOX")
            target = mailboxes.create_mailbox(txn, account_id, new, None, now)
            uids = [e.uid for e in messages.list_entries(txn.conn, inbox.id)]
            messages.move_messages(txn, inbox.id, uids, target.id, now)
        await self._write(rename)

    async def claim_recent(self, mailbox_id: int, through_uid: int) -> int:
        mailbox = await self.get_mailbox_by_id(mailbox_id)
        if mailbox is not None and mailbox.recent_uid >= through_uid:
            return mailbox.recent_uid  # nothing to claim: no write (every SELECT asks)
        return await self._write_deferred(lambda t: mailboxes.claim_recent(t, mailbox_id, through_uid))

    async def subscribed_without_mailbox(self, account_id: int) -> list[str]:
        return await self._read(lambda c: mailboxes.subscribed_without_mailbox(c, account_id))

    async def set_subscribed(self, account_id: int, name: str, subscribed: bool, must_exist: bool = True) -> None:
        await self._write(lambda t: mailboxes.set_subscribed(t, account_id, name, subscribed, must_exist))

    # messages
    async def deliver(self, raw: bytes, targets: Sequence[DeliveryTarget]) -> list[Appended | Refused]:
        """Store one copy of ``raw`` and put it in every target mailbox; durable on return.

        Each target succeeds or fails alone (a recipient over quota does not stop the others).
        """
        outcome = await self.deliver_and_queue(raw, targets)
        return list(outcome.results)

    async def deliver_and_queue(
        self,
        raw: bytes,
        targets: Sequence[DeliveryTarget],
        outbound: OutboundRequest | None = None,
        outbound_raw: bytes | None = None,
    ) -> DeliveryOutcome:
        """Local copies and the outbound queue entry of one message, in one durable step.

        ``outbound_raw`` is the queued copy's bytes when they differ from the local copies'
        (local copies carry Return-Path:, a relayed message must not).
        """
        previous, mine = self._take_turn()
        try:
            prepared = await prepare(raw) if targets else None
            queued = None
            if outbound is not None:
                queued = prepared if outbound_raw is None and prepared else await prepare(
                    outbound_raw if outbound_raw is not None else raw)
            if previous is not None:
                await previous
        except BaseException:
            mine.set_result(None)
            raise
        now = self._seconds()

        def deliver(txn: Txn) -> DeliveryOutcome:
            message_id = messages.insert_message(txn, prepared, now) if prepared is not None else None
            results = tuple(_append_one(txn, t, message_id, len(raw), now) for t in targets if message_id)
            queue_id = None
            if outbound is not None and queued is not None:
                queued_id = message_id if queued is prepared else messages.insert_message(txn, queued, now)
                assert queued_id is not None
                queue_id = queue.enqueue(txn, queued_id, outbound, now)
            if message_id is not None and queue_id is None and not any(isinstance(r, Appended) for r in results):
                messages.release_message(txn, message_id, count=0)  # no taker: drop it again
            return DeliveryOutcome(results, queue_id)

        blobs = messages.blob_files(((prepared, raw), (queued, outbound_raw or raw)))
        new_copies = [raw] if prepared is not None else []
        if queued is not None and queued is not prepared:
            new_copies.append(outbound_raw or raw)
        committed = self._writer.enqueue(deliver, blobs, grows=sum(map(len, new_copies)))
        mine.set_result(None)
        return await committed

    def _take_turn(self) -> tuple[asyncio.Future[None] | None, asyncio.Future[None]]:
        """Deliveries parse in parallel threads but reach the writer in call order, so UIDs follow
        arrival (an mbox import keeps its order; two SMTP messages keep theirs)."""
        loop = asyncio.get_running_loop()
        last = self._last_turn
        previous = last if last is not None and last.get_loop() is loop and not last.done() else None
        mine: asyncio.Future[None] = loop.create_future()
        self._last_turn = mine
        return previous, mine

    async def list_messages(self, mailbox_id: int, uid_min: int = 1, uid_max: int | None = None) -> list[MessageEntry]:
        return await self._read(lambda c: messages.list_entries(c, mailbox_id, uid_min, uid_max))

    async def list_columns(self, mailbox_id: int) -> MessageColumns:
        return await self._read(lambda c: messages.list_columns(c, mailbox_id))

    async def get_summaries(self, message_ids: Sequence[int], structure: bool = True) -> dict[int, MessageSummary]:
        return await self._read(lambda c: messages.summaries(c, message_ids, structure))

    async def read_message(self, message_id: int) -> bytes:
        """A body kept in the database (up to 128 KiB) is a point read, right here (``_read_now``: FETCH
        BODY[] hopped to the pool for each message); a body in a file is read in the pool."""
        body, blob = await self._read_now(lambda c: messages.body_or_blob(c, message_id))
        if body is not None:
            return body
        return await asyncio.get_running_loop().run_in_executor(self._pool, self.blobs.read, blob)

    async def read_by_uids(self, mailbox_id: int, uids: Sequence[int]) -> dict[int, bytes]:
        def read(conn: sqlite3.Connection) -> dict[int, bytes]:
            found = {}
            for uid, body, blob in messages.bodies_or_blobs_of_uids(conn, mailbox_id, uids):
                try:
                    found[uid] = self._bytes_of(body, blob)
                except FileNotFoundError:  # expunged by a commit after this read began: the file is gone
                    continue
            return found
        return await self._read(read)

    def _bytes_of(self, body: bytes | None, blob: str) -> bytes:
        return body if body is not None else self.blobs.read(blob)

    async def store_flags(
        self, mailbox_id: int, uids: Sequence[int], mode: FlagMode, flags: Iterable[str],
        unchanged_since: int | None = None,
    ) -> StoreFlagsResult:
        wanted = list(flags)
        if not uids:
            return StoreFlagsResult((), ())
        return await self._write_deferred(
            lambda t: messages.store_flags(t, mailbox_id, uids, mode, wanted, unchanged_since))

    async def expunge(self, mailbox_id: int, uids: Sequence[int]) -> list[int]:
        if not uids:
            return []  # CLOSE with nothing \Deleted: no write, no flush
        return await self._write(lambda t: messages.expunge(t, mailbox_id, uids))

    async def copy(self, src_mailbox_id: int, uids: Sequence[int], dst_mailbox_id: int) -> list[tuple[int, int]]:
        now = self._seconds()
        return await self._write(lambda t: messages.copy_messages(t, src_mailbox_id, uids, dst_mailbox_id, now))

    async def move(self, src_mailbox_id: int, uids: Sequence[int], dst_mailbox_id: int) -> list[tuple[int, int]]:
        now = self._seconds()
        return await self._write(lambda t: messages.move_messages(t, src_mailbox_id, uids, dst_mailbox_id, now))

    async def changes_since(self, mailbox_id: int, modseq: int) -> Changes:
        return await self._read_now(lambda c: messages.changes_since(c, mailbox_id, modseq))

    async def search_text(self, mailbox_id: int, needle: str, fields: tuple[str, ...]) -> set[int]:
        """UIDs of the mailbox whose headers and/or body text contain ``needle``, any case."""
        columns = tuple(f for f in fields if f in ("headers", "body"))
        waiting: set[int] = set()
        try:
            while await self.index_pending(mailbox_id):  # what the background indexer has not reached yet
                pass
        except StorageFull:  # no room to index what waits: read it instead (slower, the same answer)
            waiting = await self._search_waiting(mailbox_id, columns, fold(needle))
        return waiting | await self._read(lambda c: fulltext.search_text(c, mailbox_id, columns, needle))

    async def _search_waiting(self, mailbox_id: int, columns: tuple[str, ...], folded: str) -> set[int]:
        """UIDs of the mailbox's messages still waiting for the index whose text holds ``folded``."""
        found: set[int] = set()
        after = 0
        while batch := await self._read(
                partial(fulltext.pending, limit=preparing.INDEX_BATCH, max_bytes=preparing.INDEX_BATCH_BYTES,
                        mailbox_id=mailbox_id, after=after)):
            after = batch[-1][0]
            for message_id, headers, body in await asyncio.to_thread(self._index_texts, batch):
                if any(folded in text for column, text in (("headers", headers), ("body", body)) if column in columns):
                    found.add(message_id)
        return await self._read(lambda c: fulltext.uids_of(c, mailbox_id, found))

    # login throttle, trusted networks, server secrets
    async def login_failures(self, ip: str | None, account: str | None, since: float) -> tuple[int, int]:
        """Failed logins since ``since`` (Unix seconds) from ``ip`` and against ``account``."""
        return await self._read_now(lambda c: logins.count(c, ip, account, since))

    async def add_login_failure(
        self, ip: str, account: str | None, at: float, since: float, ip_limit: int, pending: bool
    ) -> tuple[int | None, int, int]:
        """Record a failure or a pending check (and forget every one before ``since``); see ``logins.add``.
        The throttle's records are bookkeeping: a crash may forget the last ones (never mail), so they
        ride the next flush instead of making each login wait for flushes of its own."""
        return await self._write_deferred(lambda t: logins.add(t, ip, account, at, since, ip_limit, pending))

    async def settle_login_failure(self, failure_id: int, failed: bool) -> None:
        await self._write_deferred(lambda t: logins.settle(t, failure_id, failed))

    async def login_network_seen(self, account: str, network: str, since: float) -> bool:
        return await self._read(lambda c: logins.network_seen(c, account, network, since))

    async def record_login_network(self, account: str, network: str, at: float, forget_before: float) -> None:
        await self._write_deferred(lambda t: logins.record_network(t, account, network, at, forget_before))

    async def server_secret(self, name: str) -> bytes:
        return await self._write(lambda t: logins.server_secret(t, name))

    async def index_backlog(self) -> IndexBacklog:
        """The stored messages not yet in the full-text index (``store/indexer.py`` works it off)."""
        return await self._read(fulltext.backlog)

    async def index_pending(self, mailbox_id: int | None = None) -> int:
        """Index one batch of messages waiting for the full-text index (only ``mailbox_id``'s if given);
        returns how many left the backlog, 0 when none waits. A message another process indexed
        meanwhile counts too: what matters to the caller is whether to go on."""
        limit, max_bytes = preparing.INDEX_BATCH, preparing.INDEX_BATCH_BYTES
        batch = await self._read(lambda c: fulltext.pending(c, limit, max_bytes, mailbox_id))
        if not batch:
            return 0
        rows = await asyncio.to_thread(lambda: fulltext.cut(self._index_texts(batch)))
        # lost in a crash, the messages are still in the backlog and are indexed again
        await self._write_deferred(lambda t: fulltext.record(t, rows), grows=sum(r.text_length for r in rows))
        return len(batch)

    def _index_texts(self, batch: list[tuple[int, bytes | None, str, str]]) -> list[tuple[int, str, str]]:
        return index_texts([(message_id, functools.partial(self._bytes_of, body, blob), structure)
                            for message_id, body, blob, structure in batch])

    async def search_summary(self, mailbox_id: int, field: SummaryField, needle: str) -> set[int]:
        """UIDs of the mailbox whose decoded Subject or From contains ``needle``, any case or accents."""
        return await self._read(lambda c: messages.search_summary(c, mailbox_id, field, needle))


    # outbound queue
    async def lease_queue(self, owner: str, lease_seconds: int, limit: int) -> list[QueuedMessage]:
        """Lease due entries for ``owner`` (a node's runner) until now + ``lease_seconds``."""
        now = self._seconds()
        return await self._write(lambda t: queue.lease_due(t, owner, now, now + lease_seconds, limit))

    async def next_queue_due(self) -> int | None:
        return await self._read(queue.next_due)

    async def reclaim_queue_leases(self, owner: str) -> int:
        return await self._write(lambda t: queue.reclaim_leases(t, owner))

    async def release_queue_lease(self, queue_id: str, owner: str) -> None:
        await self._write(lambda t: queue.release_lease(t, queue_id, owner))

    async def update_queue_recipients(self, queue_id: str, updates: Sequence[RecipientUpdate]) -> None:
        """Record attempt outcomes; durable on return (a 250 is written before anything else happens)."""
        now = self._seconds()
        await self._write(lambda t: queue.update_recipients(t, queue_id, updates, now))

    async def mark_queue_reported(self, queue_id: str, positions: Sequence[int], action: str) -> None:
        await self._write(lambda t: queue.mark_reported(t, queue_id, positions, action))

    async def delete_queue_entry(self, queue_id: str) -> bool:
        return await self._write(lambda t: queue.delete_entry(t, queue_id))

    async def get_queue_entry(self, queue_id: str) -> QueuedMessage | None:
        return await self._read(lambda c: queue.get_entry(c, queue_id))

    async def list_queue(self) -> list[QueuedMessage]:
        return await self._read(queue.list_entries)

    async def queue_summary(self) -> QueueSummary:
        return await self._read(queue.summary)

    async def retry_queue(self, queue_ids: Sequence[str] | None = None) -> int:
        now = self._seconds()
        return await self._write(lambda t: queue.retry_now(t, queue_ids, now))

    async def hold_queue_entry(self, queue_id: str, held: bool) -> bool:
        return await self._write(lambda t: queue.set_held(t, queue_id, held))

    async def add_dkim_key(self, key: DKIMKey) -> None:
        await self._write(lambda t: queue.add_dkim_key(t, key))

    async def retire_dkim_keys(self, domain: str) -> int:
        return await self._write(lambda t: queue.retire_dkim_keys(t, normalize_domain(domain)))

    async def dkim_keys(self, domain: str, active_only: bool = True) -> list[DKIMKey]:
        return await self._read_now(lambda c: queue.dkim_keys(c, normalize_domain(domain), active_only))

    async def put_mtasts_policy(self, policy: CachedPolicy) -> None:
        await self._write(lambda t: queue.put_policy(t, policy))

    async def get_mtasts_policy(self, domain: str) -> CachedPolicy | None:
        return await self._read_now(lambda c: queue.get_policy(c, domain))

    async def count_tls_result(self, policy_domain: str, policy_type: str, mx_host: str, result: str) -> None:
        day = self.now().strftime("%Y-%m-%d")
        await self._write(lambda t: queue.count_tls_result(t, policy_domain, day, policy_type, mx_host, result))

    async def tls_results(self, day: str | None = None) -> list[tuple[str, str, str, str, str, int]]:
        return await self._read(lambda c: queue.tls_results(c, day))
    async def record_dmarc(self, row: Mapping[str, object]) -> None:
        """Count one DMARC observation for today (see ``sqlite/dmarc.py`` for the columns)."""
        day = self.now().strftime("%Y-%m-%d")
        await self._write(lambda t: dmarc.count_observation(t, day, row))

    async def claim_daily_job(self, job: str, day: str) -> bool:
        return await self._write(lambda t: dmarc.claim_daily_job(t, job, day))

    async def dmarc_observations(self, day: str | None = None) -> list[dict[str, object]]:
        return await self._read(lambda c: dmarc.observations(c, day))

    # -- IMAP extensions (MULTIAPPEND, SORT) -------------------------------------------------------------
    async def dates_and_subjects(self, mailbox_id: int) -> dict[int, tuple[int | None, str]]:
        """UID → (Date header as Unix seconds or None, decoded Subject) of every message of a mailbox."""
        return await self._read(lambda c: messages.dates_and_subjects(c, mailbox_id))

    async def sort_fields(self, mailbox_id: int) -> dict[int, tuple[int | None, str]]:
        """UID → (Date header as Unix seconds or None, RFC 5256 base subject) of every message of a mailbox."""
        return await self._read(lambda c: messages.sort_fields(c, mailbox_id))

    async def thread_fields(
        self, mailbox_id: int
    ) -> dict[int, tuple[int | None, tuple[str, bool], str | None, str | None]]:
        """UID → (Date as Unix seconds, (base subject, marked a reply), Message-ID, References or None if
        not recorded)."""
        return await self._read(lambda c: messages.thread_fields(c, mailbox_id))

    async def append_messages(
        self, mailbox_id: int, batch: Sequence[tuple[bytes, DeliveryTarget]]
    ) -> list[Appended]:
        """Append several messages to one mailbox in one writer job: all are stored or none
        (RFC 3502 MULTIAPPEND); raises QuotaExceeded/NotFound and then nothing was stored."""
        prepared = [await prepare(raw) for raw, _ in batch]
        now = self._seconds()

        def append_all(txn: Txn) -> list[Appended]:
            done = []
            for (raw, target), one in zip(batch, prepared, strict=True):
                message_id = messages.insert_message(txn, one, now)
                done.append(_append_entry(txn, mailbox_id, message_id, len(raw), target, now))
            return done
        blobs = messages.blob_files(zip(prepared, (raw for raw, _ in batch), strict=True))
        return await self._write(append_all, blobs, grows=sum(len(raw) for raw, _ in batch))

    async def replace_message(self, raw: bytes, target: DeliveryTarget, replaced: tuple[int, int]) -> Appended:
        prepared = await prepare(raw)
        now = self._seconds()

        def replace(txn: Txn) -> Appended:
            if not messages.expunge(txn, replaced[0], [replaced[1]]):
                raise NotFound("the message to replace is gone")
            message_id = messages.insert_message(txn, prepared, now)
            return _append_entry(txn, target.mailbox_id, message_id, len(raw), target, now)
        return await self._write(replace, messages.blob_files([(prepared, raw)]), grows=len(raw))


def _append_entry(txn: Txn, mailbox_id: int, message_id: int, size: int, target: DeliveryTarget, now: int) -> Appended:
    seconds, zone = internal_date_columns(target.internal_date, now)
    return messages.append_entry(txn, mailbox_id, message_id, size, target.flags, seconds, now, internal_zone=zone)


def _append_one(txn: Txn, target: DeliveryTarget, message_id: int, size: int, now: int) -> Appended | Refused:
    txn.conn.execute("SAVEPOINT target")
    try:
        appended = _append_entry(txn, target.mailbox_id, message_id, size, target, now)
    except (StoreError, sqlite3.IntegrityError) as exc:
        txn.conn.execute("ROLLBACK TO target")
        txn.conn.execute("RELEASE target")
        error = exc if isinstance(exc, StoreError) else NotFound(f"no mailbox {target.mailbox_id}")
        return Refused(target.mailbox_id, error)
    txn.conn.execute("RELEASE target")
    return appended


def _in_read_txn(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    # one snapshot for the whole read, so multi-query reads are consistent
    conn.execute("BEGIN")
    try:
        return fn(conn)
    finally:
        conn.execute("COMMIT")
