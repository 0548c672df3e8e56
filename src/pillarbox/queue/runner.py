"""The queue runner: lease due entries, deliver them, record every outcome, send the DSNs owed.

Durability rules (ARCHITECTURE principle 7, and the issue's "never deliver twice"): an entry is
worked on under a lease in the store, so two runners (or a runner and its restarted self) never
work on it at once; a crashed node's leases are reclaimed when it starts again. A remote 250 is
written to the store before the runner sends another command, so a crash after it cannot send that
recipient the message again; a crash before it may (at-least-once, as RFC 5321 6.1 accepts).

Recipients of one entry are grouped by destination domain and the groups are delivered in parallel,
each domain limited to ``per_domain`` concurrent deliveries and the runner to ``workers`` entries at
once. Recipients in our own domains are delivered locally: mail for a local domain never leaves.
``per_domain`` holds for every node of the store together: a remote delivery holds one of the domain's
slots in the store (``store.destination_slots``); when other nodes hold them all, the recipients wait
``BUSY_RETRY`` seconds, an attempt that does not count.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections import defaultdict
from collections.abc import Callable

from pillarbox.antispam.sending import SendingLimits
from pillarbox.auth.directory import Directory
from pillarbox.config import Config
from pillarbox.delivery.local import LocalDelivery
from pillarbox.errors import StoreError
from pillarbox.mailauth.dkim_sign import DKIMSigner
from pillarbox.obs import Counter, get_logger, log_event
from pillarbox.outbound.deliver import Deliverer, OutboundMessage, Outcome, Target
from pillarbox.queue.reports import Reporter
from pillarbox.queue.schedule import RetryPolicy
from pillarbox.smtp import deliver_by
from pillarbox.store.records import FINAL_STATES, QueuedMessage, QueuedRecipient, RecipientUpdate

ATTEMPTS = Counter("pillarbox_outbound_attempts_total", "Recipient delivery attempts by result", ("result",))
RESULT_OF = {"pending": "deferred", "failed": "bounced"}  # sent, relayed, delivered: delivered
log = get_logger("queue")
STATE_OF = {"sent": "sent", "relayed": "relayed", "delivered": "delivered", "permanent": "failed"}
BUSY_RETRY = 5
"""Seconds until recipients try again when other nodes run ``per_domain`` deliveries to their domain."""


class QueueRunner:
    def __init__(self, store: object, directory: Directory, deliverer: Deliverer, config: Config,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.directory = directory
        self.deliverer = deliverer
        # the lease owner names this machine and node (``serve --node``): nodes sharing one config (one
        # hostname), even on one machine, must not take each other's leases back at start
        # (``reclaim_queue_leases``); a restarted node must take its own
        self.owner = f"{config.hostname}/{socket.gethostname()}" + (f"/{config.node}" if config.node else "")
        self.settings = config.queue
        self.policy = RetryPolicy.from_config(config.queue)
        self.clock = clock
        self.local = LocalDelivery(store)  # type: ignore[arg-type]
        self.signer = DKIMSigner(store)
        self.reporter = Reporter(store, directory, config.hostname, self.policy, self.poke, self.signer)
        self.sending = SendingLimits(store, config.antispam, clock)  # type: ignore[arg-type]
        """Told of the recipients of submitted mail that failed for good (``antispam/sending.py``)."""
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._domains: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(self.settings.per_domain))
        self._main: asyncio.Task[None] | None = None
        self.on_poke: Callable[[], None] | None = None
        """Also called by ``poke``: in a worker process, where this runner does not run, it tells the
        primary's runner instead (``workers.py``)."""

    # --------------------------------------------------------------------------------- lifetime

    async def start(self) -> None:
        reclaimed = await self.store.reclaim_queue_leases(self.owner)  # type: ignore[attr-defined]
        if reclaimed:
            log_event(log, "info", "reclaimed queue leases of a previous run", count=reclaimed)
        self._main = asyncio.create_task(self._loop(), name="queue-runner")

    async def stop(self, grace: float = 10.0) -> None:
        if self._main is not None:
            self._main.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._main
        if self._tasks:
            _done, pending = await asyncio.wait(self._tasks, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.deliverer.pool.close_idle(everything=True)

    def poke(self) -> None:
        """New mail was queued or a retry was asked for: look at the queue now."""
        self._wake.set()
        if self.on_poke is not None:
            self.on_poke()

    async def _loop(self) -> None:
        while True:
            try:
                leased = await self._lease()
            except (StoreError, OSError) as exc:
                log_event(log, "error", "queue lease failed", error=str(exc))
                leased = 0
            if not leased:
                await self._sleep()

    async def _lease(self) -> int:
        free = self.settings.workers - len(self._tasks)
        if free <= 0:
            return 0
        entries = await self.store.lease_queue(self.owner, self.settings.lease, free)  # type: ignore[attr-defined]
        for entry in entries:
            task = asyncio.create_task(self.process(entry))
            self._tasks.add(task)
            task.add_done_callback(self._done)
        return len(entries)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._wake.set()

    async def _sleep(self) -> None:
        timeout = self.settings.poll_interval
        due = await self.store.next_queue_due()  # type: ignore[attr-defined]
        if due is not None:
            timeout = max(0.05, min(timeout, due - self.clock()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        self._wake.clear()
        await self.deliverer.pool.close_idle()

    # --------------------------------------------------------------------------------- one entry

    async def process(self, entry: QueuedMessage) -> None:
        try:
            await self.attempt(entry)
            await self.finish(entry.id)
        except Exception as exc:  # one bad entry must not stop the runner
            # ...nor spin it: released, the entry would be due again at once and fail again, in a loop.
            # It keeps its lease, so it is tried again when the lease runs out (or the server restarts).
            log_event(log, "error", "queue entry failed; retried when its lease ends", queue_id=entry.id,
                      lease_seconds=self.settings.lease, error=f"{type(exc).__name__}: {exc}")
            return
        with contextlib.suppress(Exception):
            await self.store.release_queue_lease(entry.id, self.owner)  # type: ignore[attr-defined]

    async def attempt(self, entry: QueuedMessage) -> None:
        now = int(self.clock())
        due = [r for r in entry.recipients if r.state == "pending" and r.next_attempt <= now]
        if not due:
            return
        deadline = deliver_by.of_queue(entry.deliver_by, entry.by_mode)
        if self.policy.expired(entry.created, now) or (deadline is not None and deadline.returns
                                                       and deadline.at <= now):
            await self._expire(entry, due, now)
            return
        raw = await self.store.read_message(entry.message_id)  # type: ignore[attr-defined]
        if entry.auth_user and entry.sender:  # submitted mail not signed at submission: sign it now
            raw = await self.signer.sign(raw, entry.sender)
        message = OutboundMessage(entry.id, entry.sender, raw, entry.envid, entry.ret, entry.body, entry.smtputf8,
                                  entry.requiretls, entry.priority, deadline)
        groups: defaultdict[str, list[QueuedRecipient]] = defaultdict(list)
        for r in due:
            groups[r.domain].append(r)
        await asyncio.gather(*(self._domain(entry, message, domain, rs) for domain, rs in groups.items()))

    async def _domain(self, entry: QueuedMessage, message: OutboundMessage, domain: str,
                      recipients: list[QueuedRecipient]) -> None:
        by_position = {r.position: r for r in recipients}
        recorded: set[int] = set()

        async def record(outcomes: list[Outcome]) -> None:
            await self._write(entry, [self._update(entry, by_position[o.position], o) for o in outcomes], domain)
            recorded.update(o.position for o in outcomes)

        async with self._domains[domain]:
            if await self.directory.is_local_domain(domain):
                outcomes = [await self._local(message, r) for r in recipients]
            else:
                slots = self.store.destination_slots()  # type: ignore[attr-defined]
                slot = await slots.take(domain, self.settings.per_domain)
                if slot is None:
                    await self._wait_for_slot(entry, domain, recipients)
                    return
                try:
                    targets = [Target(r.position, r.address, r.notify, r.orcpt) for r in recipients]
                    outcomes = await self.deliverer.deliver(message, domain, targets, record)
                finally:
                    await slots.release(domain, slot)
        rest = [self._update(entry, by_position[o.position], o) for o in outcomes if o.position not in recorded]
        await self._write(entry, rest, domain)

    async def _wait_for_slot(self, entry: QueuedMessage, domain: str, recipients: list[QueuedRecipient]) -> None:
        """Other nodes run ``per_domain`` deliveries to ``domain``: again soon, as if not tried."""
        later = int(self.clock()) + BUSY_RETRY
        log_event(log, "info", "destination busy on other nodes", queue_id=entry.id, domain=domain,
                  retry_seconds=BUSY_RETRY)
        await self.store.update_queue_recipients(entry.id, [  # type: ignore[attr-defined]
            RecipientUpdate(r.position, "pending", later, r.last_error, r.status, r.remote_mta, counts=False)
            for r in recipients])

    async def _write(self, entry: QueuedMessage, updates: list[RecipientUpdate], domain: str = "") -> None:
        if updates:
            await self.store.update_queue_recipients(entry.id, updates)  # type: ignore[attr-defined]
            await self._count(updates, domain)

    async def _count(self, updates: list[RecipientUpdate], domain: str) -> None:
        """Metrics, and the outcomes per destination domain and hour the dashboard draws."""
        results: dict[str, int] = {}
        for update in updates:
            result = RESULT_OF.get(update.state, "delivered")
            ATTEMPTS.inc(result=result)
            results[result] = results.get(result, 0) + 1
        count = getattr(self.store, "count_delivery", None)
        for result, number in results.items() if domain and count else ():
            await count(domain, result, number)

    def _update(self, entry: QueuedMessage, recipient: QueuedRecipient, outcome: Outcome) -> RecipientUpdate:
        now = int(self.clock())
        state = STATE_OF.get(outcome.kind, "pending")
        next_attempt = now
        if state == "pending":
            next_attempt = self.policy.next_attempt(now, recipient.attempts + 1)
            if entry.deliver_by > now:  # RFC 2852: tried again (or expired, or reported) at the deadline
                next_attempt = min(next_attempt, entry.deliver_by)
        return RecipientUpdate(recipient.position, state, next_attempt, outcome.diagnostic, outcome.status,
                               outcome.remote_mta)

    async def _local(self, message: OutboundMessage, recipient: QueuedRecipient) -> Outcome:
        resolution = await self.directory.resolve(recipient.address)
        if not resolution.accounts:
            return Outcome(recipient.position, "permanent", "5.1.1", "x-pillarbox; no such local user")
        report = await self.local.deliver(message.raw, resolution.accounts, return_path=message.sender)
        errors = [r.error for r in report.accounts if r.error is not None]
        if errors and len(errors) == len(report.accounts):
            return Outcome(recipient.position, "temporary", "4.2.2", f"x-pillarbox; {errors[0]}")
        log_event(log, "info", "delivery attempt", queue_id=message.queue_id, recipient=recipient.address,
                  mx="local", tls="none", policy="local", result="delivered", reply="stored")
        return Outcome(recipient.position, "delivered", "2.0.0", "x-pillarbox; delivered to mailbox")

    async def _expire(self, entry: QueuedMessage, due: list[QueuedRecipient], now: int) -> None:
        """Out of time: ``max_age`` passed, or a DELIVERBY R deadline (RFC 2852 4.1.4, 5.4.7 both)."""
        updates = [RecipientUpdate(r.position, "failed", now, r.last_error or "x-pillarbox; delivery time expired",
                                   "5.4.7", r.remote_mta, counts=False) for r in due]
        for r in due:
            log_event(log, "info", "delivery expired", queue_id=entry.id, recipient=r.address, attempts=r.attempts)
        await self._write(entry, updates)

    async def finish(self, queue_id: str) -> None:
        """Send the DSNs owed; drop the entry once every recipient is final and reported."""
        entry = await self.store.get_queue_entry(queue_id)  # type: ignore[attr-defined]
        if entry is None:
            return
        now = int(self.clock())
        await self.reporter.report(entry, now)
        if all(r.state in FINAL_STATES for r in entry.recipients):
            await self.store.delete_queue_entry(queue_id)  # type: ignore[attr-defined]
            failed = sum(r.state == "failed" for r in entry.recipients)
            log_event(log, "info", "queue entry done", queue_id=queue_id, result=ending(entry),
                      delivered=len(entry.recipients) - failed, failed=failed)
            if entry.auth_user and failed:
                await self.sending.bounced(entry.auth_user, failed)


def ending(entry: QueuedMessage) -> str:
    """How an entry whose recipients are all final ended: ``delivered`` (every one), ``expired`` (one
    ran out of time, 5.4.7 from ``_expire``) or ``bounced`` (one failed for good)."""
    statuses = {r.status for r in entry.recipients if r.state == "failed"}
    if not statuses:
        return "delivered"
    return "expired" if "5.4.7" in statuses else "bounced"
