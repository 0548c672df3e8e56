"""Mailbox snapshots shared by sessions: each message's UID, flags, MODSEQ, size and dates as columns.

SELECT used to build an object per message per session: 2,000 messages cost a SELECT tens of
milliseconds and every idle session over a megabyte. A snapshot (``MessageColumns``: parallel C
arrays, flags as small ids into the mailbox's few distinct flag sets) holds a mailbox at one MODSEQ,
about 50 bytes a message, and is immutable, so every session of that mailbox shares it; a session
keeps only what it was told beyond its snapshot (``imap.selected``).

``SnapshotCache`` keeps the newest snapshot of recently selected mailboxes and brings one up to date
from the change log (``changes_since``): a SELECT after a few flag changes copies the arrays and
patches a few positions instead of reading the whole mailbox again. Patching is exact because the
change log is complete: every appended or re-flagged message carries a MODSEQ above the snapshot's,
and every expunge leaves a tombstone with one (store/sqlite/schema.py). A mailbox deleted and created
again may come back under the same id but never with the same UIDVALIDITY: that is read again.
"""

from __future__ import annotations

import bisect
import dataclasses
from array import array
from collections import OrderedDict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone

from pillarbox.store.api import Store
from pillarbox.store.records import Changes, Mailbox, MessageColumns, MessageEntry

CACHED_MESSAGES = 200_000
"""Bound of the cache, in messages (48 bytes each): about 10 MB."""


class ViewEntry:
    """One message as a session knows it: its place in a mailbox and the flags and MODSEQ last told.

    Built on demand from a snapshot's columns (nothing is kept per message), or kept by a session
    for a message it knows newer facts about than its snapshot.
    """

    __slots__ = ("flags", "internal_seconds", "internal_zone", "message_id", "modseq", "save_seconds", "size", "uid")

    def __init__(
        self, uid: int, message_id: int, flags: frozenset[str], modseq: int, size: int, internal_seconds: int,
        save_seconds: int, internal_zone: int = 0,
    ) -> None:
        self.uid = uid
        self.message_id = message_id
        self.flags = flags
        self.modseq = modseq
        self.size = size
        self.internal_seconds = internal_seconds
        self.save_seconds = save_seconds
        self.internal_zone = internal_zone
        """The zone the INTERNALDATE was given in, minutes east of UTC."""

    @classmethod
    def of(cls, entry: MessageEntry) -> ViewEntry:
        offset = entry.internal_date.utcoffset()
        zone = int(offset.total_seconds() // 60) if offset is not None else 0
        return cls(entry.uid, entry.message_id, entry.flags, entry.modseq, entry.size,
                   int(entry.internal_date.timestamp()), int(entry.save_date.timestamp()), zone)

    def told(self, flags: frozenset[str], modseq: int) -> ViewEntry:
        """The same message with the flags and MODSEQ a response has just reported."""
        return ViewEntry(self.uid, self.message_id, flags, modseq, self.size, self.internal_seconds,
                         self.save_seconds, self.internal_zone)

    @property
    def internal_date(self) -> datetime:
        """The instant, in the zone it was given in (RFC 9051 2.3.3: FETCH INTERNALDATE says it so)."""
        zone = timezone(timedelta(minutes=self.internal_zone)) if self.internal_zone else UTC
        return datetime.fromtimestamp(self.internal_seconds, zone)

    @property
    def save_date(self) -> datetime:
        return datetime.fromtimestamp(self.save_seconds, UTC)


def position(columns: MessageColumns, uid: int) -> int | None:
    """Where ``uid`` is in the columns, or None."""
    index = bisect.bisect_left(columns.uids, uid)
    return index if index < len(columns.uids) and columns.uids[index] == uid else None


def entry_at(columns: MessageColumns, index: int) -> ViewEntry:
    uid = columns.uids[index]
    return ViewEntry(
        uid, columns.message_ids[index], columns.flag_sets[columns.flag_ids[index]],
        columns.modseqs[index], columns.sizes[index], columns.internal_dates[index], columns.save_dates[index],
        columns.internal_zones.get(uid, 0),
    )


def patched(columns: MessageColumns, changes: Changes) -> MessageColumns:
    """``columns`` brought to ``changes.mailbox``'s MODSEQ by what the change log says happened since."""
    return merged(columns, changes.mailbox, [ViewEntry.of(entry) for entry in changes.changed], changes.expunged)


def merged(
    columns: MessageColumns, mailbox: Mailbox, newer: Iterable[ViewEntry], gone: Iterable[int]
) -> MessageColumns:
    """New columns for ``mailbox``: those of ``columns`` without the UIDs ``gone``, each of ``newer``
    replacing its message's flags and MODSEQ, or appended if its UID is past the last one."""
    removed = set(gone)
    keep = [i for i, uid in enumerate(columns.uids) if uid not in removed] if removed else None
    uids, message_ids, flag_ids, modseqs, sizes, internal, saved = (
        _copy(column, keep) for column in (columns.uids, columns.message_ids, columns.flag_ids, columns.modseqs,
                                           columns.sizes, columns.internal_dates, columns.save_dates)
    )
    flag_sets = list(columns.flag_sets)
    flag_id = {flags: index for index, flags in enumerate(flag_sets)}
    zones = {uid: zone for uid, zone in columns.internal_zones.items() if uid not in removed}
    for entry in sorted(newer, key=lambda e: e.uid):
        if entry.uid in removed:
            continue
        if entry.flags not in flag_id:
            flag_id[entry.flags] = len(flag_sets)
            flag_sets.append(entry.flags)
        index = bisect.bisect_left(uids, entry.uid)
        if index < len(uids) and uids[index] == entry.uid:
            flag_ids[index], modseqs[index] = flag_id[entry.flags], entry.modseq
        elif index == len(uids):
            for column, value in ((uids, entry.uid), (message_ids, entry.message_id),
                                  (flag_ids, flag_id[entry.flags]), (modseqs, entry.modseq), (sizes, entry.size),
                                  (internal, entry.internal_seconds), (saved, entry.save_seconds)):
                column.append(value)
            if entry.internal_zone:
                zones[entry.uid] = entry.internal_zone
    return MessageColumns(mailbox, uids, message_ids, flag_ids, tuple(flag_sets), modseqs, sizes, internal, saved,
                          zones)


def _copy(column: array[int], keep: list[int] | None) -> array[int]:
    return array(column.typecode, column if keep is None else map(column.__getitem__, keep))


class SnapshotCache:
    """The newest snapshot of each recently selected mailbox, least recently used first out."""

    def __init__(self, max_messages: int = CACHED_MESSAGES) -> None:
        self._newest: OrderedDict[int, MessageColumns] = OrderedDict()
        self._messages = 0
        self._max_messages = max_messages

    async def current(self, store: Store, mailbox_id: int) -> MessageColumns:
        """The mailbox as it is now: the cached snapshot patched from the change log, else read whole."""
        cached = self._newest.get(mailbox_id)
        if cached is None:
            fresh = await store.list_columns(mailbox_id)
        else:
            changes = await store.changes_since(mailbox_id, cached.mailbox.highestmodseq)
            if changes.mailbox.uidvalidity != cached.mailbox.uidvalidity:  # deleted, created again
                fresh = await store.list_columns(mailbox_id)
            elif changes.changed or changes.expunged:
                fresh = patched(cached, changes)
            elif changes.mailbox != cached.mailbox:  # only the record moved on (a rename): same columns
                fresh = dataclasses.replace(cached, mailbox=changes.mailbox)
            else:
                fresh = cached
        self._keep(fresh)
        return self._newest.get(mailbox_id, fresh)

    def _keep(self, columns: MessageColumns) -> None:
        """Keep ``columns`` unless the cache holds a newer snapshot of that mailbox already."""
        mailbox = columns.mailbox
        cached = self._newest.pop(mailbox.id, None)
        if cached is not None:
            self._messages -= len(cached.uids)
            if (cached.mailbox.uidvalidity, cached.mailbox.highestmodseq) > (mailbox.uidvalidity,
                                                                             mailbox.highestmodseq):
                columns = cached
        self._newest[mailbox.id] = columns
        self._messages += len(columns.uids)
        while self._messages > self._max_messages and len(self._newest) > 1:
            _, evicted = self._newest.popitem(last=False)
            self._messages -= len(evicted.uids)
