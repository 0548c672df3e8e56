"""When to try again, when to warn the sender, and when to give up.

Exponential backoff: the first retry after ``retry_first`` seconds, each later wait ``backoff`` times
the previous, never more than ``retry_max``. A little jitter (up to 10%) keeps many messages that
failed together from retrying together. After ``delay_notice`` seconds in the queue the sender gets
one "delayed" DSN (RFC 3464 action=delayed) when NOTIFY allows; after ``max_age`` the message
expires and bounces (RFC 5321 4.5.4.1 suggests at least 4-5 days).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from pillarbox.config import QueueConfig


@dataclass(frozen=True)
class RetryPolicy:
    retry_first: int = 300
    retry_max: int = 4 * 3600
    backoff: float = 2.0
    delay_notice: int = 4 * 3600
    max_age: int = 5 * 86400
    jitter: float = 0.1

    @classmethod
    def from_config(cls, config: QueueConfig) -> RetryPolicy:
        return cls(config.retry_first, config.retry_max, config.backoff, config.delay_notice, config.max_age)

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt (1-based), before jitter."""
        exponent = max(attempts - 1, 0)
        if self.backoff > 1 and exponent > 64:
            return float(self.retry_max)
        return float(min(self.retry_first * self.backoff ** exponent, self.retry_max))

    def next_attempt(self, now: int, attempts: int, rng: random.Random | None = None) -> int:
        wait = self.delay(attempts)
        wait += wait * self.jitter * (rng or random).random()
        return now + max(1, round(wait))

    def expired(self, created: int, now: int) -> bool:
        return now - created >= self.max_age

    def delay_due(self, created: int, now: int) -> bool:
        return now - created >= self.delay_notice
