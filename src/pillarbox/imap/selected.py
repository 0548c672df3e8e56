"""One session's view of its selected mailbox, kept in step with the store's change log.

The store is shared; a session's view is not (ARCHITECTURE habit 9). The view holds the UID list
that defines message sequence numbers for this session, the flags it last told the client, and the
MODSEQ up to which it has read the change log. ``refresh`` reads what changed since then; the
session turns the result into untagged responses at the points RFC 9051 allows:

- EXISTS and FETCH (flag) updates may go out after any command;
- EXPUNGE may not go out during FETCH, STORE or SEARCH (RFC 9051 7.5.1, 3501 7.4.1), because the
  client could not tell which sequence numbers the command used. Such expunges wait in the view: the
  message keeps its sequence number (and answers FETCH with its last known data) until announced.

Sequence numbers are positions in ``uids``; announcing an expunge removes the UID and shifts the
later ones, exactly as the client's copy shifts when it reads ``* n EXPUNGE``.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from pillarbox.store.records import Changes, Mailbox, MessageEntry


@dataclass
class Update:
    """What ``refresh`` found that the client has not been told yet."""

    expunged: list[int] = field(default_factory=list)
    """Sequence numbers to announce with EXPUNGE, in the order to send them."""
    expunged_uids: list[int] = field(default_factory=list)
    """The same messages by UID, for VANISHED once QRESYNC is enabled (RFC 7162 3.2.10)."""
    exists: int | None = None
    flags: list[MessageEntry] = field(default_factory=list)


class SelectedMailbox:
    def __init__(self, mailbox: Mailbox, entries: list[MessageEntry], read_only: bool) -> None:
        self.mailbox = mailbox
        self.read_only = read_only
        self.uids: list[int] = [entry.uid for entry in entries]
        self.entries: dict[int, MessageEntry] = {entry.uid: entry for entry in entries}
        self.known_modseq = mailbox.highestmodseq
        self.pending_expunges: set[int] = set()

    @property
    def id(self) -> int:
        return self.mailbox.id

    @property
    def exists(self) -> int:
        return len(self.uids)

    def seq_of(self, uid: int) -> int | None:
        index = bisect.bisect_left(self.uids, uid)
        return index + 1 if index < len(self.uids) and self.uids[index] == uid else None

    def uid_at(self, seq: int) -> int:
        return self.uids[seq - 1]

    def entry(self, uid: int) -> MessageEntry:
        return self.entries[uid]

    def live_uids(self) -> list[int]:
        """UIDs not yet known to be expunged (what SEARCH/STORE should act on)."""
        return [uid for uid in self.uids if uid not in self.pending_expunges]

    def apply(self, changes: Changes, allow_expunge: bool) -> Update:
        """Merge a change-log read into the view and say what to announce now."""
        update = Update()
        self.mailbox = changes.mailbox
        self.known_modseq = max(self.known_modseq, changes.mailbox.highestmodseq)
        present = set(self.entries)
        self.pending_expunges.update(uid for uid in changes.expunged if uid in present)
        last_uid = self.uids[-1] if self.uids else 0
        appended = False
        for entry in changes.changed:
            if entry.uid in self.pending_expunges:
                continue
            previous = self.entries.get(entry.uid)
            if previous is None and entry.uid > last_uid:
                self.uids.append(entry.uid)
                appended = True
            elif previous is not None and (previous.flags, previous.modseq) != (entry.flags, entry.modseq):
                update.flags.append(entry)
            self.entries[entry.uid] = entry
        if allow_expunge:
            update.expunged_uids = sorted(u for u in self.pending_expunges if u in self.entries)
            update.expunged = self.announce_expunges()
        if appended:
            update.exists = len(self.uids)
        update.flags = [e for e in update.flags if e.uid not in self.pending_expunges]
        return update

    def announce_expunges(self) -> list[int]:
        """Remove pending expunges from the view; the sequence numbers to send, highest first."""
        sequence_numbers = []
        for uid in sorted(self.pending_expunges, reverse=True):
            seq = self.seq_of(uid)
            if seq is not None:
                sequence_numbers.append(seq)
                del self.uids[seq - 1]
                self.entries.pop(uid, None)
        self.pending_expunges.clear()
        return sequence_numbers

    def remember(self, entry: MessageEntry) -> None:
        """Our own STORE changed a message: its FETCH response already told the client."""
        if entry.uid in self.entries:
            self.entries[entry.uid] = entry
