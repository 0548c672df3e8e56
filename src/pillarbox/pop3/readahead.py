"""Message bytes for RETR and TOP, read from the store a few messages per round trip.

The store reads in a worker thread, off the event loop. A round trip is dear in CPython: a worker
thread woken, the GIL handed over and back (often several times, as each SQLite call releases it), a
future completed from another thread, the loop woken through its self-pipe. With two trips per RETR,
bench/pop3_load.py saw 2 to 30 context switches per message and perf put a fifth of the server's CPU in
the scheduler and futexes; batched, about one switch per message remains. Clients download in order (UIDL,
then RETR of each message they lack, lowest number first), so when RETR n has to go to the store we
also take the following messages of the snapshot that are neither deleted nor retrieved yet, up to
``BUDGET`` octets in all. At most ``LOOKAHEAD`` messages are looked at, so a client that downloads in
another order (newest first) costs one short scan per RETR, not one of the whole snapshot.

Memory stays bounded per session: one batch (at most ``BUDGET`` octets, or the one message asked for
if it is larger), each message leaving it as it is taken; a request outside the batch replaces it.
A message that an IMAP session expunges after its batch was read is still sent, exactly as if the
expunge had come just after a RETR of its own.
"""

from __future__ import annotations

from pillarbox.errors import ProtocolError
from pillarbox.pop3 import replies
from pillarbox.pop3.maildrop import Drop, Maildrop
from pillarbox.store.api import Store

BUDGET = 128 * 1024
LOOKAHEAD = 32


class ReadAhead:
    def __init__(self, store: Store, budget: int = BUDGET) -> None:
        self._store = store
        self._budget = budget
        self._held: dict[int, bytes] = {}  # UID → bytes, read but not taken yet

    async def take(self, maildrop: Maildrop, drop: Drop) -> bytes:
        """The stored bytes of ``drop``, or -ERR if an IMAP session expunged it since our snapshot."""
        data = self._held.pop(drop.uid, None)
        if data is None:
            self._held = {}
            self._held = await self._store.read_by_uids(maildrop.mailbox.id, self._batch(maildrop, drop))
            data = self._held.pop(drop.uid, None)
        if data is None:
            raise ProtocolError(replies.DELETED_ELSEWHERE)
        return data

    def _batch(self, maildrop: Maildrop, first: Drop) -> list[int]:
        uids, total = [first.uid], first.size
        for drop in maildrop.drops[first.number:first.number + LOOKAHEAD]:
            if drop.number in maildrop.deleted or drop.number in maildrop.retrieved:
                continue
            total += drop.size
            if total > self._budget:
                break
            uids.append(drop.uid)
        return uids
