"""Everything a Sieve run reads besides the message: time, spam verdict, environment, answers, limits.

The interpreter is sans-IO, so what only the host can know reaches it as data. Questions it cannot
answer alone (has this message-id been seen, does this mailbox exist, what is in that included
script) come back as a ``Question`` in the result; the host finds the answer, adds it here and runs
the script again (scripts are deterministic, so the rerun takes the same path up to that point).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

from pillarbox.sieve.compiler import Script


@dataclass(frozen=True)
class Limits:
    """RFC 5228 10: "implementations ... limit the number of actions, redirects and the CPU time"."""

    max_actions: int = 32
    max_redirects: int = 4
    max_steps: int = 200_000
    """Work units (one per command or test, plus one per 256 characters compared): the CPU limit."""
    max_include_depth: int = 10
    max_includes: int = 32
    vacation_default_seconds: int = 7 * 86400
    vacation_min_seconds: int = 86400
    vacation_max_seconds: int = 90 * 86400
    duplicate_default_seconds: int = 7 * 86400
    duplicate_max_seconds: int = 30 * 86400
    max_questions: int = 32


@dataclass(frozen=True)
class SpamVerdict:
    """RFC 5235: ``score`` 1 (surely not spam) to 10 (surely spam), ``percent`` 0 to 100."""

    score: int
    percent: int


NO_VERDICT: SpamVerdict | None = None
"""No spam verdict (no spam filter, or submitted mail): spamtest then sees "0", "not tested" (RFC 5235 3.1)."""


@dataclass(frozen=True)
class Question:
    kind: str
    """``duplicate`` (key), ``mailbox`` (name) or ``include`` (location, name)."""
    key: tuple[str, ...]


@dataclass(frozen=True)
class Context:
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    local_zone: tzinfo = UTC
    spam: SpamVerdict | None = NO_VERDICT
    environment: Mapping[str, str] = field(default_factory=dict)
    answers: Mapping[Question, object] = field(default_factory=dict)
    """duplicate → bool (seen), mailbox → bool (exists), include → Script or None (no such script)."""
    limits: Limits = field(default_factory=Limits)

    def answered(self, question: Question, value: object) -> Context:
        return Context(self.now, self.local_zone, self.spam, self.environment,
                       {**self.answers, question: value}, self.limits)


def included_script(context: Context, location: str, name: str) -> Script | None:
    value = context.answers[Question("include", (location, name))]
    return value if isinstance(value, Script) else None
