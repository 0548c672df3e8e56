"""One session's view of its selected mailbox, kept in step with the store's change log.

The store is shared; a session's view is not (ARCHITECTURE habit 9). The view holds the UID list
that defines message sequence numbers for this session, the flags it last told the client, and the
MODSEQ up to which it has read the change log. ``merge`` merges what changed since then; the
session turns the result into untagged responses at the points RFC 9051 allows:

- EXISTS and FETCH (flag) updates may go out after any command;
- EXPUNGE may not go out during FETCH, STORE or SEARCH (RFC 9051 7.5.1, 3501 7.4.1), because the
  client could not tell which sequence numbers the command used. Such expunges wait in the view: the
  message keeps its sequence number (and answers FETCH with its last known data) until announced.

Sequence numbers are positions in ``uids``; announcing an expunge removes the UID and shifts the
later ones, exactly as the client's copy shifts when it reads ``* n EXPUNGE``.

What the view keeps is small whatever the mailbox's size: it starts as the mailbox's shared snapshot
(``imap.snapshot``, columns every session of the mailbox reads), with ``uids`` the snapshot's own
array until this session's sequence numbers move away from it (copied on the first append or
announced expunge); ``newer`` holds only the messages this session learnt something about after its
snapshot (its own STOREs, changes read from the log, new messages). When ``newer`` has grown to a
good part of the mailbox it is folded into a private snapshot, which is then the cheaper form.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from pillarbox.imap import snapshot
from pillarbox.imap.recent import RecentUids
from pillarbox.imap.snapshot import ViewEntry
from pillarbox.store.records import Changes, Mailbox, MessageColumns, MessageEntry

SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")

COMPACT_SHARE = 6
"""Fold ``newer`` into a private snapshot once it holds more than 1/COMPACT_SHARE of the messages (an
entry costs about six times what a message costs in columns)."""
COMPACT_MIN = 64


@dataclass
class Update:
    """What ``apply`` found that the client has not been told yet."""

    expunged: list[int] = field(default_factory=list)
    """Sequence numbers to announce with EXPUNGE, in the order to send them."""
    expunged_uids: list[int] = field(default_factory=list)
    """The same messages by UID, for VANISHED once QRESYNC is enabled (RFC 7162 3.2.10)."""
    exists: int | None = None
    flags: list[MessageEntry] = field(default_factory=list)
    new_keywords: bool = False
    """A keyword the client was not told of: FLAGS goes out again first (RFC 3501 7.2.6)."""


class SelectedMailbox:
    def __init__(self, columns: MessageColumns, read_only: bool) -> None:
        self.mailbox: Mailbox = columns.mailbox
        self.read_only = read_only
        self.base = columns
        self.uids: array[int] = columns.uids
        self.newer: dict[int, ViewEntry] = {}
        self.known_modseq = columns.mailbox.highestmodseq
        self.pending_expunges: set[int] = set()
        self.touched: set[int] = set()
        """Messages new or changed since ``take_touched`` was last called."""
        self.recent = RecentUids()
        self.keywords: dict[str, str] = {}
        """The keywords told in FLAGS, by lower-case name: only ever more while the mailbox is selected."""
        self.learn_keywords(columns.flag_sets)

    @property
    def id(self) -> int:
        return self.mailbox.id

    @property
    def exists(self) -> int:
        return len(self.uids)

    def seq_of(self, uid: int) -> int | None:
        index = bisect.bisect_left(self.uids, uid)
        return index + 1 if index < len(self.uids) and self.uids[index] == uid else None

    def numbered(self, uids: Iterable[int]) -> Iterator[tuple[int, int]]:
        """(sequence number, UID) of each of ``uids`` (ascending) that is in the view."""
        index = 0
        for uid in uids:
            found = _find(self.uids, uid, index)
            if found >= 0:
                yield found + 1, uid
                index = found + 1

    def uid_at(self, seq: int) -> int:
        return self.uids[seq - 1]

    def entry(self, uid: int) -> ViewEntry:
        """The message ``uid`` of the view as last told to the client (KeyError if not in the view)."""
        found = self.newer.get(uid)
        if found is not None:
            return found
        index = snapshot.position(self.base, uid)
        if index is None:
            raise KeyError(uid)
        return snapshot.entry_at(self.base, index)

    def numbered_entries(self, uids: Iterable[int]) -> Iterator[tuple[int, ViewEntry]]:
        """(sequence number, entry) of each of ``uids`` (ascending) in the view, for FETCH: while the
        view's sequence is its snapshot's, a message's position there is its sequence number - 1."""
        base, newer = self.base, self.newer
        for seq, uid in self.numbered(uids):
            entry = newer.get(uid)
            if entry is None:
                index = seq - 1 if self.uids is base.uids else snapshot.position(base, uid)
                assert index is not None
                entry = snapshot.entry_at(base, index)
            yield seq, entry

    def having(self, uids: Iterable[int], flag: str, present: bool = True) -> list[int]:
        """Those of ``uids`` (ascending, in the view) whose flags include ``flag`` (or lack it)."""
        uids = list(uids)
        return [uid for uid, flags in zip(uids, self.flags_of(uids), strict=True) if (flag in flags) == present]

    def flags_of(self, uids: Iterable[int]) -> Iterator[frozenset[str]]:
        """The flags last told of each of ``uids`` (ascending, all in the view), in one walk of the
        snapshot and without building entries (SEARCH UNSEEN asks them of every message)."""
        base, newer = self.base, self.newer
        index = 0
        for uid in uids:
            found = newer.get(uid)
            if found is not None:
                yield found.flags
                continue
            index = _find(base.uids, uid, index)
            if index < 0:
                raise KeyError(uid)
            yield base.flag_sets[base.flag_ids[index]]
            index += 1

    def learn_keywords(self, flag_sets: Iterable[frozenset[str]]) -> bool:
        """Remember the keywords of ``flag_sets`` (case-insensitive, RFC 9051 2.3.2); True if one is new."""
        known = self.keywords
        before = len(known)
        for flags in flag_sets:
            for flag in flags:
                if not flag.startswith("\\"):
                    known.setdefault(flag.lower(), flag)
        return len(known) > before

    def flag_names(self) -> list[str]:
        """What FLAGS lists: the system flags, then every keyword in use (RFC 3501 7.2.6)."""
        return [*SYSTEM_FLAGS, *sorted(self.keywords.values(), key=str.lower)]

    def permanent_flags(self) -> list[str]:
        """PERMANENTFLAGS (RFC 9051 7.1): none when read-only, else every flag and new keywords (``\\*``)."""
        return [] if self.read_only else [*self.flag_names(), "\\*"]

    def live_uids(self) -> list[int]:
        """UIDs not yet known to be expunged (what SEARCH/STORE should act on)."""
        return [uid for uid in self.uids if uid not in self.pending_expunges]

    def merge(self, changes: Changes) -> Update:
        """Merge a change-log read into the view: what to announce now but expunges, which stay
        pending (still numbered) until ``announce``."""
        update = Update()
        self.mailbox = changes.mailbox
        self.known_modseq = max(self.known_modseq, changes.mailbox.highestmodseq)
        self.pending_expunges.update(uid for uid in changes.expunged if self.seq_of(uid) is not None)
        last_uid = self.uids[-1] if self.uids else 0
        appended = False
        for entry in changes.changed:
            if entry.uid in self.pending_expunges:
                continue
            if entry.uid > last_uid:
                self._own_uids().append(entry.uid)
                appended = True
            elif self.seq_of(entry.uid) is None:
                continue  # not in this view (nor ever told): nothing to remember
            else:
                previous = self.entry(entry.uid)
                if (previous.flags, previous.modseq) == (entry.flags, entry.modseq):
                    continue
                update.flags.append(entry)
            self.newer[entry.uid] = ViewEntry.of(entry)
            self.touched.add(entry.uid)
            update.new_keywords |= self.learn_keywords((entry.flags,))
        if appended:
            update.exists = len(self.uids)
        update.flags = [e for e in update.flags if e.uid not in self.pending_expunges]
        self._compact()
        return update

    def announce(self, update: Update) -> None:
        """Take the pending expunges out of the view into ``update`` (EXPUNGE may go out now)."""
        update.expunged_uids = sorted(self.pending_expunges)
        update.expunged = self.announce_expunges()
        if update.exists is not None:
            update.exists = len(self.uids)
        self._compact()

    def take_touched(self) -> list[int]:
        """The UIDs (ascending) of the messages new or changed since the last call, still in the view
        and not expunged: those whose match of a search may have changed (RFC 5267 4.3)."""
        touched, self.touched = self.touched, set()
        return [uid for uid in sorted(touched) if uid not in self.pending_expunges and self.seq_of(uid) is not None]

    def announce_expunges(self) -> list[int]:
        """Remove pending expunges from the view; the sequence numbers to send, highest first."""
        sequence_numbers = []
        for uid in sorted(self.pending_expunges, reverse=True):
            seq = self.seq_of(uid)
            if seq is not None:
                sequence_numbers.append(seq)
                del self._own_uids()[seq - 1]
                self.newer.pop(uid, None)
        self.pending_expunges.clear()
        return sequence_numbers

    def remember(self, uid: int, flags: frozenset[str], modseq: int) -> None:
        """Our own STORE changed a message: its FETCH response already told the client."""
        if self.seq_of(uid) is not None:
            self.newer[uid] = self.entry(uid).told(flags, modseq)
            self.touched.add(uid)
            self._compact()

    def _own_uids(self) -> array[int]:
        """``uids``, copied first while it is still the shared snapshot's (which never changes)."""
        if self.uids is self.base.uids:
            self.uids = array(self.uids.typecode, self.uids)
        return self.uids

    def _compact(self) -> None:
        if len(self.newer) <= max(COMPACT_MIN, len(self.uids) // COMPACT_SHARE) or self.pending_expunges:
            return
        kept = set(self.uids)
        gone = [uid for uid in self.base.uids if uid not in kept]
        self.base = snapshot.merged(self.base, self.mailbox, self.newer.values(), gone)
        self.uids = self.base.uids
        self.newer = {}



def _find(ordered: array[int], uid: int, start: int) -> int:
    """The index of ``uid`` in ``ordered`` at or after ``start``, else -1. Callers walk ascending UIDs,
    most often every one (FETCH 1:*): ``start`` itself is tried before a bisection."""
    if start < len(ordered) and ordered[start] == uid:
        return start
    index = bisect.bisect_left(ordered, uid, start)
    return index if index < len(ordered) and ordered[index] == uid else -1
