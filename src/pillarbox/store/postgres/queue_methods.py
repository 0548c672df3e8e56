"""``store.api.Store``'s outbound queue (leases shared by every node), DKIM keys, the MTA-STS and TLS
caches, the login throttle and the DMARC/TLS-RPT data on PostgreSQL. A mixin of ``PostgresStore``
(which provides ``_read``/``_write`` and the clock)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pillarbox.address import normalize_domain
from pillarbox.store.postgres import logins, queue
from pillarbox.store.records import CachedPolicy, DKIMKey, QueuedMessage, QueueSummary, RecipientUpdate


class QueueMethods:
    """Mixed into ``PostgresStore``: it supplies ``_read``, ``_write``, ``_write_deferred`` and the clock."""

    _read: Callable[..., Awaitable[Any]]
    _write: Callable[..., Awaitable[Any]]
    _write_deferred: Callable[..., Awaitable[Any]]
    _seconds: Callable[[], int]
    now: Callable[[], datetime]

    # login throttle, DMARC data
    async def login_failures(self, ip: str | None, account: str | None, since: float) -> tuple[int, int]:
        return await self._read(lambda c: logins.count(c, ip, account, since))

    async def add_login_failure(
        self, ip: str, account: str | None, at: float, since: float, ip_limit: int, pending: bool
    ) -> tuple[int | None, int, int]:
        return await self._write_deferred(lambda c: logins.add(c, ip, account, at, since, ip_limit, pending))

    async def settle_login_failure(self, failure_id: int, failed: bool) -> None:
        await self._write_deferred(lambda c: logins.settle(c, failure_id, failed))

    async def login_network_seen(self, account: str, network: str, since: float) -> bool:
        return await self._read(lambda c: logins.network_seen(c, account, network, since))

    async def record_login_network(self, account: str, network: str, at: float, forget_before: float) -> None:
        await self._write_deferred(lambda c: logins.record_network(c, account, network, at, forget_before))

    async def server_secret(self, name: str) -> bytes:
        return await self._write(lambda c: logins.server_secret(c, name))

    async def record_dmarc(self, row: Mapping[str, object]) -> None:
        day = self.now().strftime("%Y-%m-%d")
        await self._write(lambda c: logins.count_dmarc(c, day, row))

    async def claim_daily_job(self, job: str, day: str) -> bool:
        return await self._write(lambda c: logins.claim_daily_job(c, job, day))

    async def dmarc_observations(self, day: str | None = None) -> list[dict[str, object]]:
        return await self._read(lambda c: logins.dmarc_observations(c, day))

    # outbound queue
    async def lease_queue(self, owner: str, lease_seconds: int, limit: int) -> list[QueuedMessage]:
        """Lease due entries for ``owner`` (a node's runner) until now + ``lease_seconds``."""
        now = self._seconds()
        return await self._write(lambda c: queue.lease_due(c, owner, now, now + lease_seconds, limit))

    async def next_queue_due(self) -> int | None:
        return await self._read(queue.next_due)

    async def reclaim_queue_leases(self, owner: str) -> int:
        return await self._write(lambda c: queue.reclaim_leases(c, owner))

    async def release_queue_lease(self, queue_id: str, owner: str) -> None:
        await self._write(lambda c: queue.release_lease(c, queue_id, owner))

    async def update_queue_recipients(self, queue_id: str, updates: Sequence[RecipientUpdate]) -> None:
        now = self._seconds()
        await self._write(lambda c: queue.update_recipients(c, queue_id, updates, now))

    async def mark_queue_reported(self, queue_id: str, positions: Sequence[int], action: str) -> None:
        await self._write(lambda c: queue.mark_reported(c, queue_id, positions, action))

    async def delete_queue_entry(self, queue_id: str) -> bool:
        return await self._write(lambda c: queue.delete_entry(c, queue_id))

    async def get_queue_entry(self, queue_id: str) -> QueuedMessage | None:
        found = await self._read(lambda c: queue.entries(c, [queue_id]), snapshot=True)
        return found[0] if found else None

    async def list_queue(self) -> list[QueuedMessage]:
        return await self._read(queue.entries, snapshot=True)

    async def queue_summary(self) -> QueueSummary:
        return await self._read(queue.summary, snapshot=True)

    async def retry_queue(self, queue_ids: Sequence[str] | None = None) -> int:
        now = self._seconds()
        return await self._write(lambda c: queue.retry_now(c, queue_ids, now))

    async def hold_queue_entry(self, queue_id: str, held: bool) -> bool:
        return await self._write(lambda c: queue.set_held(c, queue_id, held))

    async def add_dkim_key(self, key: DKIMKey) -> None:
        await self._write(lambda c: queue.add_dkim_key(c, key))

    async def retire_dkim_keys(self, domain: str) -> int:
        return await self._write(lambda c: queue.retire_dkim_keys(c, normalize_domain(domain)))

    async def dkim_keys(self, domain: str, active_only: bool = True) -> list[DKIMKey]:
        return await self._read(lambda c: queue.dkim_keys(c, normalize_domain(domain), active_only))

    async def put_mtasts_policy(self, policy: CachedPolicy) -> None:
        await self._write(lambda c: queue.put_policy(c, policy))

    async def get_mtasts_policy(self, domain: str) -> CachedPolicy | None:
        return await self._read(lambda c: queue.get_policy(c, domain))

    async def count_tls_result(self, policy_domain: str, policy_type: str, mx_host: str, result: str) -> None:
        day = self.now().strftime("%Y-%m-%d")
        await self._write(lambda c: queue.count_tls_result(c, policy_domain, day, policy_type, mx_host, result))

    async def tls_results(self, day: str | None = None) -> list[tuple[str, str, str, str, str, int]]:
        return await self._read(lambda c: queue.tls_results(c, day))

    async def tls_seen(self, domain: str) -> int:
        return await self._read(lambda c: queue.tls_seen(c, domain.lower()))

    async def raise_tls_seen(self, domain: str, level: int) -> None:
        now = self._seconds()
        await self._write(lambda c: queue.raise_tls_seen(c, domain.lower(), level, now))

    async def forget_tls_seen(self, domain: str) -> bool:
        return await self._write(lambda c: queue.forget_tls_seen(c, domain.lower()))

    async def list_tls_seen(self) -> list[tuple[str, int, int]]:
        return await self._read(queue.list_tls_seen)
