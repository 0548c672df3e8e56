"""Learning from users: what they move into and out of Junk teaches their classifier (and rspamd's).

A background job of the primary process reads the store's change log (principle 5) from where it
stopped, so IMAP never calls into the filter and a move made through any client, on any worker or
node, is seen. For each account with changes it looks at the messages that were added or re-flagged:

- ``$Junk`` set (and not ``$NotJunk``, RFC 9051 2.3.2): spam; ``$NotJunk``: ham. A keyword is a
  deliberate mark, so it wins over where the message lies;
- a message in the Junk folder that the filter did not put there (MOVE, COPY, APPEND): spam;
- a message out of Junk in another folder than Trash, that was in Junk before (the filter filed it,
  or it was learned as spam) and is no longer there: ham. Deleting spam teaches nothing;
- a message the user has read (``\\Seen``) in any other folder but Trash, Sent and Drafts: ham. Users
  move spam into Junk and seldom anything out, and a classifier trained on spam alone junks ordinary
  mail for its ordinary words (``classifier.py``); what the user reads and keeps is the ham it needs.
  Spam read before it is moved to Junk is learned as ham first, then relearned as spam.

Training is per message (``store.spam_train`` is idempotent and undoes the previous class first),
so a message that moves back and forth ends up learned as where it was left, and a copy in two
folders counts once. The job keeps its place in the store (``job_cursor``), so a restart neither
skips nor repeats. It also expires greylisting state and the ledger of deleted messages, hourly.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Protocol

from pillarbox.antispam.greylist import Greylist
from pillarbox.antispam.rspamd import RspamdClient, RspamdError
from pillarbox.antispam.tokens import features
from pillarbox.background import LoopingTask
from pillarbox.config import AntispamConfig
from pillarbox.errors import NotFound
from pillarbox.mime.header_view import HeaderView
from pillarbox.obs import Counter, get_logger, log_event
from pillarbox.store.api import AntispamStore
from pillarbox.store.records import Changes, Mailbox, MessageColumns

log = get_logger("antispam")
LEARNED = Counter("pillarbox_antispam_learned_total", "Messages learned from users' actions", ("as",))
CURSOR = "spam_learned"
MAINTENANCE_EVERY = 3600.0
SPAM, HAM = "spam", "ham"


class LearningStore(AntispamStore, Protocol):
    async def changes_since(self, mailbox_id: int, modseq: int) -> Changes: ...
    async def read_message(self, message_id: int) -> bytes: ...
    async def list_mailboxes(self, account_id: int) -> list[Mailbox]: ...
    async def list_columns(self, mailbox_id: int) -> MessageColumns: ...


def role(mailbox: Mailbox) -> str:
    """``junk``, ``trash``, ``own`` (Sent, Drafts: the user's own writing) or ``other``: by special-use
    attribute (RFC 6154), else by the usual names."""
    use, name = mailbox.special_use, mailbox.name.lower()
    if use == "\\Junk" or (use is None and name in ("junk", "spam")):
        return "junk"
    if use == "\\Trash" or (use is None and name == "trash"):
        return "trash"
    if use in ("\\Sent", "\\Drafts") or (use is None and name in ("sent", "drafts")):
        return "own"
    return "other"


def keyword_signal(flags: Iterable[str]) -> str | None:
    marks = {flag.lower() for flag in flags} & {"$junk", "$notjunk"}
    if marks == {"$junk"}:
        return SPAM
    return HAM if marks == {"$notjunk"} else None  # both at once mean neither (RFC 9051 2.3.2)


class LearningJob(LoopingTask):
    name = "antispam-learning"

    def __init__(self, store: LearningStore, settings: AntispamConfig, rspamd: RspamdClient | None = None,
                 greylist: Greylist | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.settings = settings
        self.rspamd = rspamd if rspamd is not None and rspamd.controller else None
        self.greylist = greylist
        self.clock = clock
        self._maintained = clock()

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
                await self._maintain()
            except Exception as exc:  # a bad pass must not end learning; the next one starts at the same place
                log_event(log, "error", "learning pass failed", error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(self.settings.learn_interval)

    async def run_once(self) -> int:
        """One pass over the change log since the last; returns how many messages were learned."""
        cursor = await self.store.job_cursor(CURSOR)
        newest, mailboxes = await self.store.mailboxes_changed_since(cursor)
        by_account: defaultdict[int, list[Mailbox]] = defaultdict(list)
        for mailbox in mailboxes:
            by_account[mailbox.account_id].append(mailbox)
        learned = 0
        for account_id, changed in by_account.items():
            learned += await self._account(account_id, changed, cursor)
        if newest > cursor:
            await self.store.set_job_cursor(CURSOR, newest)
        return learned

    async def _account(self, account_id: int, mailboxes: list[Mailbox], cursor: int) -> int:
        signals, in_junk, outside, read = await self._observe(mailboxes, cursor)
        states = await self.store.spam_states(account_id, sorted(signals.keys() | in_junk | outside))
        for message_id in in_junk - signals.keys():
            state = states.get(message_id)
            if state is None or state.filed != SPAM:
                signals[message_id] = SPAM
        left = {m for m in outside - signals.keys() - in_junk
                if (state := states.get(m)) is not None and SPAM in (state.filed, state.trained)}
        for message_id in left - await self._still_in_junk(account_id, left):
            signals[message_id] = HAM
        for message_id in read - signals.keys() - in_junk:
            if (state := states.get(message_id)) is None or state.trained is None:
                signals[message_id] = HAM
        learned = 0
        for message_id, kind in sorted(signals.items()):
            learned += await self._learn(account_id, message_id, kind)
        return learned

    async def _observe(self, mailboxes: list[Mailbox], cursor: int
                       ) -> tuple[dict[int, str], set[int], set[int], set[int]]:
        """(keyword signals, messages added to or changed in Junk, the same in the user's other folders,
        and of those the ones read)."""
        signals: dict[int, str] = {}
        in_junk: set[int] = set()
        outside: set[int] = set()
        read: set[int] = set()
        for mailbox in mailboxes:
            where = role(mailbox)
            for entry in (await self.store.changes_since(mailbox.id, cursor)).changed:
                signal = keyword_signal(entry.flags)
                if signal is not None:
                    signals[entry.message_id] = signal
                elif where == "junk":
                    in_junk.add(entry.message_id)
                elif where == "other":
                    outside.add(entry.message_id)
                    if "\\Seen" in entry.flags:
                        read.add(entry.message_id)
        return signals, in_junk, outside, read

    async def _still_in_junk(self, account_id: int, message_ids: set[int]) -> set[int]:
        """Those of ``message_ids`` that are (also) in the account's Junk: copied out, not moved."""
        if not message_ids:
            return set()
        junk = [m for m in await self.store.list_mailboxes(account_id) if role(m) == "junk"]
        found: set[int] = set()
        for mailbox in junk:
            found |= message_ids & set((await self.store.list_columns(mailbox.id)).message_ids)
        return found

    async def _learn(self, account_id: int, message_id: int, kind: str) -> int:
        try:
            raw = await self.store.read_message(message_id)
        except (OSError, NotFound):
            return 0  # deleted meanwhile
        tokens = await asyncio.to_thread(lambda: list(features(raw, HeaderView.parse(raw))))
        if not await self.store.spam_train(account_id, message_id, tokens, kind, self.settings.classifier_max_tokens):
            return 0
        LEARNED.inc(**{"as": kind})
        log_event(log, "info", "learned", account_id=account_id, message_id=message_id, kind=kind)
        if self.rspamd is not None:
            await self._teach_rspamd(raw, kind, message_id)
        return 1

    async def _teach_rspamd(self, raw: bytes, kind: str, message_id: int) -> None:
        assert self.rspamd is not None
        try:
            fresh = await self.rspamd.learn(raw, spam=kind == SPAM)
        except RspamdError as exc:
            log_event(log, "error", "rspamd learning failed", message_id=message_id, kind=kind, error=str(exc))
            return
        log_event(log, "info", "rspamd learned" if fresh else "rspamd knew it already", message_id=message_id,
                  kind=kind)

    async def _maintain(self) -> None:
        if self.clock() - self._maintained < MAINTENANCE_EVERY:
            return
        self._maintained = self.clock()
        expired = await self.greylist.expire() if self.greylist is not None else 0
        forgotten = await self.store.spam_forget_gone()
        log_event(log, "info", "antispam maintenance", greylist_expired=expired, ledger_forgotten=forgotten)
