"""Login throttling: guessers are slowed down and stopped, the owner of an account is not.

The naive way, a lock-out per account after N failures, hands every stranger a way to lock a user
out: one wrong password from each of N addresses. So the rules are per source, and an account under
attack only costs time to the networks it has never been used from:

- **Per IP**: every failure answers late, ``failure_delay`` growing with the IP's failures in the
  window; once the IP has ``max_ip_failures`` of them it is refused without its password being looked
  at, until old failures age out of the window. A refused IP is answered exactly like a wrong
  password, so a guesser cannot tell whether its guesses are still being checked.
- **Counted before the check**: a password check is recorded as pending *before* it runs (``begin``:
  count and insert in one store transaction) and settled after it, a failure or forgotten. The IP's
  failures and pending checks together never exceed ``max_ip_failures``: twenty parallel connections
  of a guesser get ten guesses checked, not one each. A check that finds the limit taken by pending
  ones waits for them to settle (``BUSY_POLL``), so fifty users behind one address logging in at once
  are slowed, not refused; only settled failures lock the address.
- **Per account, a delay only**: past ``account_failures`` failures against one account in the window
  (from any IP), an attempt from a network that has not logged in to it successfully in the last
  ``trusted_for`` seconds waits ``account_delay`` per failure past the threshold (at most
  ``max_account_delay``) before its password is checked. The owner's usual networks (an IPv4 /24, an
  IPv6 /64) keep working at once; elsewhere the owner waits but gets in.

Failures and successful networks are kept in the store, so every process and node counts the same
and a restart forgives nothing.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

DAY = 86400
NETWORK_RECORD_INTERVAL = DAY
"""A network's last success is rewritten at most once a day (a login costs no write to stay trusted)."""
MEMO_LIMIT = 10_000
BUSY_POLL = 0.05
"""Seconds between two tries of a check that waits for the IP's pending checks to settle..."""
MAX_BUSY_WAIT = 30.0
"""...for at most this long; then it is refused as if the IP were locked."""


class FailureLog(Protocol):
    """Where failures and successful networks are kept: the store (every process and node counts them)."""

    async def login_failures(self, ip: str | None, account: str | None, since: float) -> tuple[int, int]: ...
    async def add_login_failure(
        self, ip: str, account: str | None, at: float, since: float, ip_limit: int, pending: bool
    ) -> tuple[int | None, int, int]: ...
    async def settle_login_failure(self, failure_id: int, failed: bool) -> None: ...
    async def login_network_seen(self, account: str, network: str, since: float) -> bool: ...
    async def record_login_network(self, account: str, network: str, at: float, forget_before: float) -> None: ...


@dataclass(frozen=True)
class ThrottleSettings:
    max_ip_failures: int = 10
    window: float = 15 * 60
    failure_delay: float = 1.0
    max_failure_delay: float = 5.0
    account_failures: int = 10
    account_delay: float = 1.0
    max_account_delay: float = 15.0
    trusted_for: float = 30 * DAY


@dataclass(frozen=True)
class Standing:
    """Failures in the window: from the client's IP, and against the account name tried."""

    ip_failures: int
    account_failures: int


@dataclass(frozen=True)
class Attempt:
    """A password about to be checked, pending in the store; ``standing``: the settled failures before it."""

    failure_id: int
    standing: Standing


def network_of(ip: str) -> str:
    """The network a client address belongs to for trust: its IPv4 /24 or IPv6 /64."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


class LoginThrottle:
    def __init__(
        self, log: FailureLog, settings: ThrottleSettings | None = None, clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.log = log
        self.settings = settings or ThrottleSettings()
        self._clock = clock
        self._sleep = sleep
        self._recorded: dict[tuple[str, str], float] = {}

    async def standing(self, ip: str, account: str | None) -> Standing:
        ip_failures, account_failures = await self.log.login_failures(
            ip, _name(account), self._clock() - self.settings.window)
        return Standing(ip_failures, account_failures)

    def is_locked(self, standing: Standing) -> bool:
        return standing.ip_failures >= self.settings.max_ip_failures

    def failure_delay(self, standing: Standing) -> float:
        """Seconds from the start of a failed attempt to its answer: 1 s, growing with the IP's failures."""
        settings = self.settings
        return min(settings.failure_delay * (1 + standing.ip_failures / 2), settings.max_failure_delay)

    async def begin(self, ip: str, account: str | None) -> Attempt | None:
        """Record a check as pending before it runs; None: the IP is locked (or stayed busy too long)."""
        for _ in range(int(MAX_BUSY_WAIT / BUSY_POLL)):
            failure_id, ip_failures, account_failures = await self._add(ip, account, pending=True)
            if failure_id is not None:
                return Attempt(failure_id, Standing(ip_failures, account_failures))
            if ip_failures >= self.settings.max_ip_failures:
                return None
            await self._sleep(BUSY_POLL)  # the limit is taken by checks still running: wait for them
        return None

    async def failed(self, attempt: Attempt) -> None:
        await self.log.settle_login_failure(attempt.failure_id, failed=True)

    async def record_failure(self, ip: str, account: str | None) -> None:
        """A failure found without a password check (a refused authorization identity, say)."""
        await self._add(ip, account, pending=False)

    async def _add(self, ip: str, account: str | None, pending: bool) -> tuple[int | None, int, int]:
        now = self._clock()
        return await self.log.add_login_failure(
            ip, _name(account), now, now - self.settings.window, self.settings.max_ip_failures, pending)

    async def account_delay(self, ip: str, account: str | None, standing: Standing) -> float:
        """Seconds to wait before checking a password for an account under attack, from an untrusted network."""
        settings = self.settings
        excess = standing.account_failures - settings.account_failures + 1
        if excess <= 0 or account is None:
            return 0.0
        since = self._clock() - settings.trusted_for
        if await self.log.login_network_seen(account.lower(), network_of(ip), since):
            return 0.0
        return min(excess * settings.account_delay, settings.max_account_delay)

    async def succeeded(self, attempt: Attempt | None, ip: str, account: str) -> None:
        """The password was right: the attempt is no failure, and the network is trusted from now on."""
        if attempt is not None:
            await self.log.settle_login_failure(attempt.failure_id, failed=False)
        now, key = self._clock(), (account.lower(), network_of(ip))
        if now - self._recorded.get(key, -NETWORK_RECORD_INTERVAL) < NETWORK_RECORD_INTERVAL:
            return
        if len(self._recorded) >= MEMO_LIMIT:
            self._recorded.clear()
        self._recorded[key] = now
        await self.log.record_login_network(*key, now, now - self.settings.trusted_for)


def _name(account: str | None) -> str | None:
    return account.lower() if account else None
