"""Login throttling: failures slow down the next attempt, and too many lock a source out for a while.

Counted per client IP and per account name over a sliding window, in the store, so that every
server process (``workers``) counts the failures of all of them and a restart forgives nothing.
Each failure answers late (``failure_delay``), so a guessing client gets a handful of tries a minute
per connection; past ``max_failures`` in the window the IP is refused outright until old failures
age out, and an account name past three times that (many IPs guessing one account). A success
clears the account's count but not the IP's (one right password must not launder an IP's guesses
at other accounts).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

WINDOW_SECONDS = 15 * 60


class FailureLog(Protocol):
    """Where failures are kept: the store (every process and node counts them)."""

    async def login_failures(self, ip: str | None, account: str | None, since: float) -> tuple[int, int]: ...
    async def add_login_failure(self, ip: str, account: str | None, at: float, forget_before: float) -> None: ...
    async def clear_login_failures(self, account: str) -> None: ...


@dataclass(frozen=True)
class Standing:
    """Failures in the window: from the client's IP, and against the account name tried."""

    ip_failures: int
    account_failures: int


class LoginThrottle:
    def __init__(
        self, log: FailureLog, max_failures: int = 10, window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.log = log
        self.max_failures = max_failures
        self.window = window
        self._clock = clock

    async def standing(self, ip: str, account: str | None) -> Standing:
        ip_failures, account_failures = await self.log.login_failures(
            ip, account.lower() if account else None, self._clock() - self.window)
        return Standing(ip_failures, account_failures)

    def is_locked(self, standing: Standing) -> bool:
        # an account is locked a little later than an IP: many IPs guessing one account
        return standing.ip_failures >= self.max_failures or standing.account_failures >= self.max_failures * 3

    def failure_delay(self, standing: Standing) -> float:
        """Seconds to wait before answering a failed attempt: 1 s, growing with the IP's failures."""
        return min(1.0 + standing.ip_failures * 0.5, 5.0)

    async def record_failure(self, ip: str, account: str | None) -> None:
        now = self._clock()
        await self.log.add_login_failure(ip, account.lower() if account else None, now, now - self.window)

    async def record_success(self, account: str) -> None:
        # a read first: most logins have no failures to clear, and a write costs a flush
        if (await self.log.login_failures(None, account.lower(), self._clock() - self.window))[1]:
            await self.log.clear_login_failures(account.lower())
