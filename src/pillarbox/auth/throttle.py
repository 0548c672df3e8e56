"""Login throttling: failures slow down the next attempt, and too many lock a source out for a while.

Counted per client IP and per account name, over a sliding window, in memory (a restart forgives).
Each failure answers late (``failure_delay``), so a guessing client gets a handful of tries a minute
per connection; past ``max_failures`` in the window the IP (or the account name) is refused outright
until old failures age out. A success clears the account's count but not the IP's (one right
password must not launder an IP's guesses at other accounts).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

WINDOW_SECONDS = 15 * 60


class LoginThrottle:
    def __init__(
        self, max_failures: int = 10, window: float = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self._clock = clock
        self._by_ip: dict[str, deque[float]] = {}
        self._by_account: dict[str, deque[float]] = {}

    def is_locked(self, ip: str, account: str | None = None) -> bool:
        if self._count(self._by_ip, ip) >= self.max_failures:
            return True
        # an account is locked a little later than an IP: many IPs guessing one account
        return account is not None and self._count(self._by_account, account.lower()) >= self.max_failures * 3

    def failure_delay(self, ip: str) -> float:
        """Seconds to wait before answering a failed attempt: 1 s, growing with the IP's failures."""
        return min(1.0 + self._count(self._by_ip, ip) * 0.5, 5.0)

    def record_failure(self, ip: str, account: str | None) -> None:
        now = self._clock()
        self._by_ip.setdefault(ip, deque()).append(now)
        if account:
            self._by_account.setdefault(account.lower(), deque()).append(now)

    def record_success(self, account: str) -> None:
        self._by_account.pop(account.lower(), None)

    def _count(self, table: dict[str, deque[float]], key: str) -> int:
        times = table.get(key)
        if not times:
            return 0
        horizon = self._clock() - self.window
        while times and times[0] < horizon:
            times.popleft()
        if not times:
            del table[key]
            return 0
        return len(times)
