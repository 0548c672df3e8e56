"""\\Recent (RFC 3501 2.3.2) for IMAP4rev1 sessions: which messages this session was first told of.

The problem: \\Recent is a flag of a session, not of a message. "This session is the first session to
have been notified about this message; if the session is read-write, subsequent sessions will not see
\\Recent set for this message." Sessions of one mailbox live in several processes (``workers``) and
later on several nodes, so "first" cannot be decided in one process's memory.

The naive way keeps a set of recent UIDs per mailbox in memory, or stores a flag per message and
clears it on SELECT (one write per message, and a race between two SELECTs). What we do: the store
keeps one number per mailbox, ``recent_uid``; a read-write session that is told of messages up to
UID n claims them with ``Store.claim_recent(mailbox, n)``, which raises the mark atomically and
returns where it was, so the messages between belong to this session and to no other. A read-only
session (EXAMINE) only reads the mark: the messages above it are recent to it, and stay recent for
the next session (6.3.2: EXAMINE MUST NOT cause messages to lose \\Recent).

What a session owns is a few UID ranges (one per claim, joined when adjacent), so a first SELECT of
100,000 unclaimed messages costs one range, not 100,000 UIDs. IMAP4rev2 dropped \\Recent (RFC 9051
Appendix E 10): a session that enabled it neither claims nor shows any.
"""

from __future__ import annotations

import bisect
from array import array
from typing import TYPE_CHECKING

from pillarbox.errors import NotFound

if TYPE_CHECKING:
    from pillarbox.imap.selected import SelectedMailbox
    from pillarbox.store.api import Store

RECENT = "\\Recent"


class RecentUids:
    """The UIDs recent to one session, as sorted, disjoint, inclusive (first, last) ranges."""

    def __init__(self) -> None:
        self._firsts: list[int] = []
        self._lasts: list[int] = []

    def add(self, first: int, last: int) -> None:
        """Add UIDs ``first``..``last``, all above those added before (UIDs only grow)."""
        if first > last:
            return
        if self._lasts and self._lasts[-1] + 1 >= first:
            self._lasts[-1] = max(self._lasts[-1], last)
        else:
            self._firsts.append(first)
            self._lasts.append(last)

    def clear(self) -> None:
        self._firsts.clear()
        self._lasts.clear()

    def __contains__(self, uid: int) -> bool:
        index = bisect.bisect_right(self._firsts, uid) - 1
        return index >= 0 and uid <= self._lasts[index]

    def count(self, uids: array[int]) -> int:
        """How many of ``uids`` (ascending) are recent: a bisection per range, not a look per message."""
        return sum(bisect.bisect_right(uids, last) - bisect.bisect_left(uids, first)
                   for first, last in zip(self._firsts, self._lasts, strict=True))


async def take(store: Store, view: SelectedMailbox, told_after: int) -> None:
    """The view has just been told of its messages above UID ``told_after``: those nobody claimed
    before are recent to it (and, read-write, claimed, so to nobody else)."""
    last = view.uids[-1] if view.uids else 0
    mark = view.mailbox.recent_uid
    if last <= max(told_after, mark):
        return  # nothing new, or every new one taken already: no write
    if not view.read_only:
        try:
            mark = await store.claim_recent(view.id, last)
        except NotFound:  # deleted meanwhile: the session hears of that at its next command
            return
    view.recent.add(max(mark, told_after) + 1, last)
