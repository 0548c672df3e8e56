"""What every change feed shares: sessions waiting for mailboxes to pass the HIGHESTMODSEQ they know.

A backend's feed learns the newest HIGHESTMODSEQ of changed mailboxes its own way (SQLite: a query
after each commit and on other processes' wake-ups; PostgreSQL: LISTEN/NOTIFY) and calls ``note``;
waiters then read the change log themselves (principle 5: woken by notifications, read from the store).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping


class ChangeWaiters:
    def __init__(self) -> None:
        self._waiters: dict[int, set[asyncio.Future[None]]] = {}
        self._highest: dict[int, int] = {}

    def _ensure_running(self) -> None:
        """Hook: start whatever brings news of changes (called by the first ``wait``)."""

    async def wait(self, known: Mapping[int, int], timeout: float | None = None) -> bool:
        """Wait until a mailbox's HIGHESTMODSEQ passes the value the caller last read (or timeout).

        Passing what the caller knows closes the race between reading the mailbox and starting to
        wait: a change the feed saw in between resolves the wait at once.
        """
        self._ensure_running()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        ids = list(known)
        for mailbox_id in ids:
            self._waiters.setdefault(mailbox_id, set()).add(future)
            if self._highest.get(mailbox_id, 0) > known[mailbox_id]:
                future.set_result(None)
        try:
            await asyncio.wait_for(future, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            for mailbox_id in ids:
                waiting = self._waiters.get(mailbox_id)
                if waiting is not None:
                    waiting.discard(future)
                    if not waiting:
                        del self._waiters[mailbox_id]

    def note(self, mailbox_id: int, highest: int) -> None:
        """The mailbox's HIGHESTMODSEQ is now ``highest`` (or more): wake whoever waits for it."""
        if highest <= self._highest.get(mailbox_id, 0):
            return
        self._highest[mailbox_id] = highest
        for future in self._waiters.get(mailbox_id, ()):
            if not future.done():
                future.set_result(None)

    def waited_for(self) -> list[int]:
        return list(self._waiters)
