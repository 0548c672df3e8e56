"""Group commit: one writer thread, many concurrent callers, one transaction and one flush per batch.

Callers hand the writer a job (a function of the connection) plus the blobs it needs on disk. The
writer takes every job waiting at that moment, writes their blobs, flushes the filesystem once,
then runs the jobs in one transaction, each inside its own SAVEPOINT so one failing job (a quota
refusal, a duplicate name) rolls back alone, and commits once (WAL + synchronous=FULL: one fsync).
Only then are the callers' futures resolved: nothing is acknowledged before it is durable.

Under load the batch grows by itself: while one commit flushes, the next jobs queue up, and they all
ride the next flush. With a single caller there is no added wait.

Jobs that bring new mail say how many bytes (``grows``); when the disk reserve (``store/reserve.py``)
cannot take them the writer refuses them with StorageFull before writing anything, and the other
jobs of the batch go on. A full disk met all the same fails the batch with the same error.

Several processes (server workers, the CLI) write the same database. SQLite lets one commit at a
time and makes the others poll with sleeps of 1, 2, 5, 10... ms; writers therefore queue on an
exclusive flock(2) of ``write.lock`` around the transaction instead, which wakes the next writer the
moment the lock is free. The jobs that queued while a writer waited for the lock join its batch
(with two busy processes each waited about as long as it held the lock: 1-2 ms, half of it the
other's flush).

A batch made only of jobs queued with ``durable=False`` (flag changes and the like) commits without a
flush of its own and is made durable by the next one, within a second (``deferred.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pillarbox.obs import get_logger, log_event, name_os_thread
from pillarbox.store.blobs import BlobStore
from pillarbox.store.reserve import DiskReserve, is_disk_full, storage_full
from pillarbox.store.sqlite.deferred import DeferredFlush, cover_modseqs, flush_commit

T = TypeVar("T")
MAX_BATCH = 512
log = get_logger("store")


@dataclass
class Txn:
    """What a job sees: the connection inside the batch's transaction, and a place to drop blobs."""

    conn: sqlite3.Connection
    forgotten_blobs: set[str] = field(default_factory=set)

    def forget_blob(self, name: str) -> None:
        """The last row naming this blob is gone; the file goes once that is committed."""
        self.forgotten_blobs.add(name)


@dataclass
class _Job:
    fn: Callable[[Txn], Any]
    blobs: dict[str, bytes]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    grows: int = 0
    durable: bool = True


class GroupCommitWriter:
    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        blobs: BlobStore,
        on_commit: Callable[[], None],
        lock_path: Path,
        reserve: DiskReserve | None = None,
        deferred: DeferredFlush | None = None,
    ) -> None:
        self._connect = connect
        self._blobs = blobs
        self._on_commit = on_commit
        self._lock_path = lock_path
        self._reserve = reserve
        self._deferred = deferred
        self._synchronous = "FULL"  # what the connection is set to (``connect``)
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._held: _Job | None = None  # taken from the queue but left for the next batch
        self._thread = threading.Thread(target=self._run, name="pillarbox-store-writer", daemon=True)
        self._thread.start()
        self.batches = 0
        self.jobs_done = 0

    async def submit(
        self, fn: Callable[[Txn], T], blobs: dict[str, bytes] | None = None, grows: int = 0, durable: bool = True,
    ) -> T:
        return await self.enqueue(fn, blobs, grows, durable)

    def enqueue(
        self, fn: Callable[[Txn], T], blobs: dict[str, bytes] | None = None, grows: int = 0, durable: bool = True,
    ) -> asyncio.Future[T]:
        """Queue a job now (jobs run in the order they are queued); the future settles after COMMIT.
        ``grows``: the bytes of new mail (or index) it stores, which must fit above the disk reserve.
        ``durable=False``: the commit may wait for the next flush (``deferred.py``); never for new mail."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put(_Job(fn, blobs or {}, future, loop, grows, durable or bool(blobs)))
        return future

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join()

    def _run(self) -> None:
        name_os_thread("pb-store-writer")
        conn = self._connect()
        lock = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            while True:
                batch = self._next_batch(conn, lock)
                if batch is None:
                    return
                self._execute(conn, lock, batch)
        finally:
            if self._deferred is not None and self._deferred.due_in() is not None:
                self._pay_flush(conn, lock)
            os.close(lock)
            conn.close()

    def _next_batch(self, conn: sqlite3.Connection, lock: int) -> list[_Job] | None:
        first, self._held = self._held or self._next_job(conn, lock), None
        if first is None:
            return None
        batch = [first]
        self._take_waiting(batch, with_blobs=True)
        return batch

    def _next_job(self, conn: sqlite3.Connection, lock: int) -> _Job | None:
        """The next job, waiting for one; a flush owed to deferred commits is paid when due."""
        while self._deferred is not None and (due := self._deferred.due_in()) is not None:
            if due > 0:
                try:
                    return self._jobs.get(timeout=due)
                except queue.Empty:
                    pass
            self._pay_flush(conn, lock)
        return self._jobs.get()

    def _pay_flush(self, conn: sqlite3.Connection, lock: int) -> None:
        assert self._deferred is not None
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            self._synchronous_is(conn, "FULL")
            flush_commit(conn)
        except (sqlite3.Error, OSError) as exc:  # the next ordinary commit flushes them all the same
            log_event(log, "error", "deferred flush failed", error=str(exc))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
        self._deferred.paid()

    def _take_waiting(self, batch: list[_Job], with_blobs: bool) -> None:
        """Add the jobs queued by now to ``batch``, in order; without ``with_blobs``, stop before a job
        that brings blob files (they are written before the lock is taken) and keep it for the next."""
        while len(batch) < MAX_BATCH:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            if job is None:
                self._jobs.put(None)  # finish this batch, then stop
                return
            if job.blobs and not with_blobs:
                self._held = job
                return
            batch.append(job)

    def _execute(self, conn: sqlite3.Connection, lock: int, batch: list[_Job]) -> None:
        batch = self._within_reserve(batch)
        if not batch:
            return
        results: list[tuple[_Job, Any, BaseException | None]] = []
        txn = Txn(conn)
        try:
            self._write_blobs(batch)
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                # another process's commit may have kept us waiting: what queued meanwhile rides along
                self._take_waiting(batch, with_blobs=False)
                deferred = self._set_synchronous(conn, batch)
                conn.execute("BEGIN IMMEDIATE")
                for job in batch:
                    results.append(self._run_job(txn, job))
                flush_now = deferred and cover_modseqs(conn)
                conn.execute("COMMIT")
                if flush_now:
                    self._synchronous_is(conn, "FULL")
                    flush_commit(conn)
                    self._deferred.paid()  # type: ignore[union-attr]  # flush_now implies deferred
                elif self._deferred is not None:
                    self._deferred.committed(flushed=not deferred)
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        except BaseException as exc:  # the whole batch failed: nothing of it is durable
            error = storage_full(exc) if is_disk_full(exc) else exc
            for job in batch:
                _resolve(job, None, error)
            return
        self.batches += 1
        self.jobs_done += len(batch)
        self._unlink_unused(conn, txn.forgotten_blobs)
        self._on_commit()
        for job, value, error in results:
            _resolve(job, value, error)

    def _set_synchronous(self, conn: sqlite3.Connection, batch: list[_Job]) -> bool:
        """Choose the batch's flush; True when the commit may be deferred."""
        deferred = self._deferred is not None and self._deferred.enabled and not any(j.durable for j in batch)
        self._synchronous_is(conn, "NORMAL" if deferred else "FULL")
        return deferred

    def _synchronous_is(self, conn: sqlite3.Connection, wanted: str) -> None:
        # set outside a transaction only: SQLite refuses to change it inside one
        if wanted != self._synchronous:
            conn.execute(f"PRAGMA synchronous = {wanted}")
            self._synchronous = wanted

    def _within_reserve(self, batch: list[_Job]) -> list[_Job]:
        """The jobs of ``batch`` that may run; those whose new mail does not fit above the reserve are
        refused with StorageFull (a job that adds nothing always runs)."""
        growing = [job for job in batch if job.grows]
        if self._reserve is None or not growing:
            return batch
        try:
            admitted = dict(zip(map(id, growing), self._reserve.admit([job.grows for job in growing]), strict=True))
        except OSError as exc:  # statvfs failed: let the write itself find out
            log_event(log, "warning", "free space unknown", error=str(exc))
            return batch
        for job in growing:
            if not admitted[id(job)]:
                _resolve(job, None, storage_full())
        return [job for job in batch if admitted.get(id(job), True)]

    def _unlink_unused(self, conn: sqlite3.Connection, names: set[str]) -> None:
        # checked after the commit, in this thread: a job of the same batch may have stored
        # the very same bytes again, and then the file stays
        for name in names:
            if conn.execute("SELECT 1 FROM messages m WHERE m.blob = ? AND NOT EXISTS"
                            " (SELECT 1 FROM message_bodies b WHERE b.message_id = m.id)", (name,)).fetchone() is None:
                self._blobs.unlink(name)

    def _write_blobs(self, batch: list[_Job]) -> None:
        written = []
        for job in batch:
            for name, data in job.blobs.items():
                written.append(self._blobs.write(name, data))
        self._blobs.sync(written)

    @staticmethod
    def _run_job(txn: Txn, job: _Job) -> tuple[_Job, Any, BaseException | None]:
        conn = txn.conn
        conn.execute("SAVEPOINT job")
        forgotten = set(txn.forgotten_blobs)
        try:
            value = job.fn(txn)
        except Exception as exc:
            if is_disk_full(exc):
                raise  # SQLite may have rolled the whole transaction back: the batch fails
            conn.execute("ROLLBACK TO job")
            conn.execute("RELEASE job")
            txn.forgotten_blobs = forgotten
            return job, None, exc
        conn.execute("RELEASE job")
        return job, value, None


def _resolve(job: _Job, value: Any, error: BaseException | None) -> None:
    def settle() -> None:
        if job.future.done():
            return
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(value)

    with contextlib.suppress(RuntimeError):  # the caller's loop is gone; the work is durable all the same
        job.loop.call_soon_threadsafe(settle)
