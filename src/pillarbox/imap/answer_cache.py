"""The last answers of SORT and THREAD over big mailboxes, shared by every session of the server.

Why: a webmail client (Roundcube, for one) sends the same ``UID THREAD REFERENCES UTF-8 ALL`` or
``SORT`` for every page of a message list, and over 100,000 messages the answer costs most of a
second of CPU to compute (bench/README.md) but a millisecond to look up.

Why it is exact: within one UIDVALIDITY a UID names one stored message for ever, and stored
messages never change (RFC 9051 2.3.1.1), so what SORT and THREAD read of them (the Date, the base
subject, Message-ID and References, INTERNALDATE, RFC822.SIZE, the envelope) never changes either.
An answer is therefore a function of the command's parameters, the searched UIDs and, where it
names messages by sequence number, the view's UIDs; the key holds all of them, so a new message,
an expunge or a different search is a different key and never an old answer.

Memory is bounded by the UIDs the kept answers hold (8 bytes each in a key, about as much again in
the answer): the searched ones and, where the key has them, the view's.
"""

from __future__ import annotations

from array import array
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import Any

MAX_UIDS = 2_000_000
"""Kept answers hold at most this many UIDs together (about 25 MB)."""
MIN_MESSAGES = 1_000
"""Answers over smaller mailboxes are not kept: they cost less to compute than to remember."""


UID_BYTES = 8


def uid_key(uids: Sequence[int]) -> bytes:
    """A compact, hashable form of a UID list, ``UID_BYTES`` a UID."""
    return array("q", uids).tobytes()


class AnswerCache:
    """Answers by key, least recently used first out, within ``max_uids`` UIDs held."""

    def __init__(self, max_uids: int = MAX_UIDS, min_messages: int = MIN_MESSAGES) -> None:
        self._answers: OrderedDict[Hashable, tuple[int, Any]] = OrderedDict()
        self._max_uids = max_uids
        self._min_messages = min_messages
        self._uids = 0

    def get(self, key: Hashable) -> Any | None:
        found = self._answers.get(key)
        if found is None:
            return None
        self._answers.move_to_end(key)
        return found[1]

    def put(self, key: Hashable, answer: Any, uids: int, mailbox: int) -> None:
        """Keep ``answer``, whose key and answer hold ``uids`` UIDs, over a mailbox of ``mailbox``
        messages, forgetting the least recently used answers to make room."""
        if mailbox < self._min_messages or uids > self._max_uids or key in self._answers:
            return
        self._answers[key] = (uids, answer)
        self._uids += uids
        while self._uids > self._max_uids:
            _, (dropped, _) = self._answers.popitem(last=False)
            self._uids -= dropped
