"""One POP3 session's view of INBOX: a snapshot taken at login, and what QUIT will change.

RFC 1939 asks for three things a shared IMAP-era mailbox does not give for free:
* message numbers 1..n fixed for the whole session (4: "the POP3 server ... assigns a message-number
  to each message") — so the session works on the list of UIDs read at login, and mail delivered
  meanwhile appears at the next login;
* an exclusive-access lock on the maildrop (4: "acquire an exclusive-access lock") — IMAP sessions
  do not take it (they cope with expunges), only POP3 sessions exclude each other, also across
  server processes and nodes (the store's ``maildrop_locks``: a flock per account on SQLite,
  an advisory lock on PostgreSQL);
* deletions only in the UPDATE state (6) — ``UpdatePlan`` is computed at QUIT from the marks and the
  account's policy, then applied with ``store.expunge`` (which bumps MODSEQ, so IMAP sessions see
  POP3 deletions as ordinary expunges).

UIDL (RFC 1939 7) must be unique per maildrop and stable across sessions: "<uidvalidity>.<uid>" is
both, since an IMAP UID is never reused while UIDVALIDITY stays (RFC 9051 2.3.1.1); it is 1-70
characters of 0x21-0x7E as RFC 1939 requires.

The expiry policy (RFC 2449 6.7 EXPIRE) is the account's ``pop3_delete_after_days``: None keeps
everything (EXPIRE NEVER); 0 deletes each message the session RETRieved in full (EXPIRE 0: "an implicit
DELE for each message which was downloaded with RETR"); N deletes, at QUIT, messages of the snapshot
older than N days (by INTERNALDATE) that have been downloaded — RETRieved now, or \\Seen from an
earlier download. RETR marks messages \\Seen at QUIT, as Dovecot does, so IMAP shows them as read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pillarbox.errors import ProtocolError
from pillarbox.pop3 import replies
from pillarbox.store.records import Mailbox, MessageEntry

SEEN = "\\Seen"


@dataclass(frozen=True)
class Drop:
    """One message of the snapshot: its session number and its UID in the store's INBOX."""

    number: int
    uid: int
    size: int
    internal_date: datetime
    seen: bool

    def unique_id(self, uidvalidity: int) -> str:
        return f"{uidvalidity}.{self.uid}"


@dataclass(frozen=True)
class UpdatePlan:
    expunge: tuple[int, ...]
    """UIDs to remove: DELE'd by the client, or due under the account's policy."""
    mark_seen: tuple[int, ...]
    """UIDs RETRieved and kept: flagged \\Seen."""


@dataclass
class Maildrop:
    mailbox: Mailbox
    drops: list[Drop]
    deleted: set[int] = field(default_factory=set)
    retrieved: set[int] = field(default_factory=set)

    @classmethod
    def snapshot(cls, mailbox: Mailbox, entries: list[MessageEntry]) -> Maildrop:
        drops = [
            Drop(n, e.uid, e.size, e.internal_date, SEEN in e.flags)
            for n, e in enumerate(sorted(entries, key=lambda e: e.uid), start=1)
        ]
        return cls(mailbox, drops)

    def get(self, number: int) -> Drop:
        """The message ``number`` names, refusing numbers out of range or marked deleted (RFC 1939 5)."""
        if not 1 <= number <= len(self.drops):
            raise ProtocolError(replies.NO_SUCH_MESSAGE)
        if number in self.deleted:
            raise ProtocolError(replies.ALREADY_DELETED.format(number=number))
        return self.drops[number - 1]

    def live(self) -> Iterator[Drop]:
        return (drop for drop in self.drops if drop.number not in self.deleted)

    def stat(self) -> tuple[int, int]:
        """(messages, octets) not marked deleted: what STAT and LIST report."""
        count = size = 0
        for drop in self.live():
            count += 1
            size += drop.size
        return count, size

    def unique_id(self, drop: Drop) -> str:
        return drop.unique_id(self.mailbox.uidvalidity)

    def delete(self, number: int) -> None:
        self.deleted.add(self.get(number).number)

    def reset(self) -> None:
        self.deleted.clear()

    def plan(self, delete_after_days: int | None, now: datetime) -> UpdatePlan:
        due = set(self.deleted)
        for drop in self.drops:
            if _expired(drop, drop.number in self.retrieved, delete_after_days, now):
                due.add(drop.number)
        seen = [d.uid for d in self.drops if d.number in self.retrieved and d.number not in due and not d.seen]
        return UpdatePlan(tuple(self.drops[n - 1].uid for n in sorted(due)), tuple(seen))


def _expired(drop: Drop, retrieved: bool, delete_after_days: int | None, now: datetime) -> bool:
    if delete_after_days is None:
        return False
    if delete_after_days == 0:
        return retrieved
    return (retrieved or drop.seen) and now - drop.internal_date >= timedelta(days=delete_after_days)
