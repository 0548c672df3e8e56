"""DELIVERBY (RFC 2852): a deadline the sender sets for the message, and what happens when it passes.

``MAIL FROM:<...> BY=<by-time>;<by-mode>[T]``: ``by-time`` seconds from now; by-mode ``R`` returns the
message (a failed DSN, 5.4.7) if it is not delivered in time, ``N`` sends a "delayed" DSN then and goes
on trying. The queue keeps the deadline as a time, passes the time left on (``BY=<left>;<mode>``) to a
next hop that advertises DELIVERBY, and never relays an ``R`` message to one that does not (RFC 2852
4.1.4): that recipient fails with 5.4.7 as well. The trace flag ``T`` is accepted and passed on; the
"relayed" DSN it asks for is not sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pillarbox.errors import ProtocolError
from pillarbox.smtp import replies
from pillarbox.smtp.grammar import MailFrom

EHLO_KEYWORD = "DELIVERBY"
"""No min-by-time: any positive by-time is taken (the queue retries at the deadline itself)."""


@dataclass(frozen=True)
class Deadline:
    at: int
    """Unix time the message must be delivered by."""
    mode: str
    """"R" or "N", then "T" when a trace was asked for."""

    @property
    def returns(self) -> bool:
        return self.mode.startswith("R")

    def parameter(self, now: float) -> str:
        """``BY=`` for the next hop: the seconds left (never below 1 for R, which expires at 0)."""
        left = int(self.at - now)
        return f"BY={max(left, 1) if self.returns else left};{self.mode}"


def of_queue(at: int, mode: str) -> Deadline | None:
    """The deadline a queue entry keeps (``deliver_by`` 0: none)."""
    return Deadline(at, mode) if at and mode else None


def deadline(mail: MailFrom, now: datetime) -> Deadline | None:
    """``mail``'s deadline (None: none asked); ProtocolError for an R request that is already due."""
    value = mail.params.get("BY")
    if value is None:
        return None
    by_time, _, mode = value.partition(";")
    seconds = int(by_time)
    if mode.startswith("R") and seconds <= 0:  # RFC 2852 4: return mode needs time left
        raise ProtocolError(replies.PARAM_SYNTAX.with_text("BY with mode R needs a by-time above 0"))
    return Deadline(int(now.timestamp()) + seconds, mode)
