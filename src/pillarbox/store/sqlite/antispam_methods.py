"""``store.api.AntispamStore`` for SQLite: the classifier's counts, the learning ledger, allow/block
lists, greylisting and sending counts. A mixin of ``SQLiteStore`` (which provides ``_read``/``_write``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pillarbox.store.records import Mailbox, SenderRule, SendingPolicy, SpamMessageState, TokenCounts
from pillarbox.store.sqlite import greylist, sender_rules, sending, spam
from pillarbox.store.sqlite.mailboxes import get_mailbox_by_id
from pillarbox.store.sqlite.writer import Txn


class AntispamMethods:
    """Mixed into ``SQLiteStore``: it supplies ``_read``, ``_write`` and the clock."""

    _read: Callable[[Callable[[sqlite3.Connection], Any]], Awaitable[Any]]
    _write: Callable[[Callable[[Txn], Any]], Awaitable[Any]]
    _seconds: Callable[[], int]

    # the classifier and the learning job
    async def spam_counts(self, account_id: int, tokens: Sequence[int]) -> TokenCounts:
        return await self._read(lambda c: spam.counts(c, account_id, tokens))

    async def spam_train(self, account_id: int, message_id: int, tokens: Sequence[int], as_: str | None,
                         max_tokens: int) -> bool:
        return await self._write(lambda t: spam.train(t, account_id, message_id, tokens, as_, max_tokens))

    async def spam_states(self, account_id: int, message_ids: Sequence[int]) -> dict[int, SpamMessageState]:
        return await self._read(lambda c: spam.states(c, account_id, message_ids))

    async def spam_mark_filed(self, mailbox_id: int, uids: Sequence[int]) -> None:
        await self._write(lambda t: spam.mark_filed(t, mailbox_id, uids))

    async def spam_forget_gone(self) -> int:
        return await self._write(spam.forget_gone_messages)

    async def job_cursor(self, name: str) -> int:
        return await self._read(lambda c: spam.cursor(c, name))

    async def set_job_cursor(self, name: str, value: int) -> None:
        await self._write(lambda t: spam.set_cursor(t, name, value))

    async def mailboxes_changed_since(self, modseq: int) -> tuple[int, list[Mailbox]]:
        def query(conn: sqlite3.Connection) -> tuple[int, list[Mailbox]]:
            last = spam.cursor(conn, "modseq")
            ids = [row[0] for row in conn.execute("SELECT id FROM mailboxes WHERE highestmodseq > ?", (modseq,))]
            return last, [m for i in ids if (m := get_mailbox_by_id(conn, i)) is not None]
        return await self._read(query)

    # allow and block lists
    async def add_sender_rule(self, account_id: int, pattern: str, action: str, source: str = "user") -> None:
        now = self._seconds()
        await self._write(lambda t: sender_rules.add(t, account_id, pattern, action, source, now))

    async def delete_sender_rule(self, account_id: int, pattern: str) -> None:
        await self._write(lambda t: sender_rules.delete(t, account_id, pattern))

    async def sender_rules(self, account_id: int, patterns: Sequence[str]) -> dict[str, str]:
        return await self._read(lambda c: sender_rules.matching(c, account_id, patterns))

    async def list_sender_rules(self, account_id: int | None = None) -> list[SenderRule]:
        return await self._read(lambda c: sender_rules.listing(c, account_id))

    async def remember_correspondents(self, account_id: int, addresses: Sequence[str], keep: int) -> None:
        now = self._seconds()
        await self._write(lambda t: sender_rules.remember(t, account_id, addresses, now, keep))

    # greylisting
    async def greylist(self, triplet: str, network: str, now: int, delay: int, retry_window: int,
                       pass_count: int) -> str:
        return await self._write(lambda t: greylist.attempt(t, triplet, network, now, delay, retry_window, pass_count))

    async def expire_greylist(self, now: int, retry_window: int, max_age: int) -> int:
        return await self._write(lambda t: greylist.expire(t, now, retry_window, max_age))

    # sending limits
    async def record_sending(self, account_id: int, kind: str, count: int, at: int) -> None:
        await self._write(lambda t: sending.record(t, account_id, kind, count, at))

    async def sending_totals(self, account_id: int, since: int) -> dict[str, tuple[int, int]]:
        return await self._read(lambda c: sending.totals(c, account_id, since))

    async def sending_policy(self, account_id: int) -> SendingPolicy:
        return await self._read(lambda c: sending.policy(c, account_id))

    async def set_sending_limits(self, account_id: int, messages: int | None, recipients: int | None) -> None:
        await self._write(lambda t: sending.set_limits(t, account_id, messages, recipients))

    async def set_sending_held(self, account_id: int, reason: str | None) -> None:
        now = self._seconds()
        await self._write(lambda t: sending.set_held(t, account_id, reason, now))
