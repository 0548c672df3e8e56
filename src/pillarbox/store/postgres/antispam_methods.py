"""``store.api.AntispamStore`` for PostgreSQL: the classifier's counts, the learning ledger, allow/block
lists, greylisting and sending counts, shared by every node. A mixin of ``PostgresStore`` (which provides
``_read``/``_write`` and the clock), as ``sqlite/antispam_methods.py`` is of ``SQLiteStore``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pillarbox.store.postgres import greylist, sender_rules, sending, spam
from pillarbox.store.postgres.mailboxes import list_changed_since
from pillarbox.store.records import Mailbox, SenderRule, SendingPolicy, SpamMessageState, TokenCounts


class AntispamMethods:
    """Mixed into ``PostgresStore``: it supplies ``_read``, ``_write`` and the clock."""

    _read: Callable[..., Awaitable[Any]]
    _write: Callable[..., Awaitable[Any]]
    _seconds: Callable[[], int]

    # the classifier and the learning job
    async def spam_counts(self, account_id: int, tokens: Sequence[int]) -> TokenCounts:
        return await self._read(lambda c: spam.counts(c, account_id, tokens), snapshot=True)

    async def spam_train(self, account_id: int, message_id: int, tokens: Sequence[int], as_: str | None,
                         max_tokens: int) -> bool:
        return await self._write(lambda c: spam.train(c, account_id, message_id, tokens, as_, max_tokens))

    async def spam_states(self, account_id: int, message_ids: Sequence[int]) -> dict[int, SpamMessageState]:
        return await self._read(lambda c: spam.states(c, account_id, message_ids))

    async def spam_mark_filed(self, mailbox_id: int, uids: Sequence[int]) -> None:
        await self._write(lambda c: spam.mark_filed(c, mailbox_id, uids))

    async def spam_forget_gone(self) -> int:
        return await self._write(spam.forget_gone_messages)

    async def job_cursor(self, name: str) -> int:
        return await self._read(lambda c: spam.cursor(c, name))

    async def set_job_cursor(self, name: str, value: int) -> None:
        await self._write(lambda c: spam.set_cursor(c, name, value))

    async def mailboxes_changed_since(self, modseq: int) -> tuple[int, list[Mailbox]]:
        return await self._read(lambda c: list_changed_since(c, modseq))  # not one snapshot: see there

    # allow and block lists
    async def add_sender_rule(self, account_id: int, pattern: str, action: str, source: str = "user") -> None:
        now = self._seconds()
        await self._write(lambda c: sender_rules.add(c, account_id, pattern, action, source, now))

    async def delete_sender_rule(self, account_id: int, pattern: str) -> None:
        await self._write(lambda c: sender_rules.delete(c, account_id, pattern))

    async def sender_rules(self, account_id: int, patterns: Sequence[str]) -> dict[str, str]:
        return await self._read(lambda c: sender_rules.matching(c, account_id, patterns))

    async def list_sender_rules(self, account_id: int | None = None) -> list[SenderRule]:
        return await self._read(lambda c: sender_rules.listing(c, account_id))

    async def remember_correspondents(self, account_id: int, addresses: Sequence[str], keep: int) -> None:
        now = self._seconds()
        await self._write(lambda c: sender_rules.remember(c, account_id, addresses, now, keep))

    # greylisting
    async def greylist(self, triplet: str, network: str, now: int, delay: int, retry_window: int,
                       pass_count: int) -> str:
        return await self._write(lambda c: greylist.attempt(c, triplet, network, now, delay, retry_window,
                                                            pass_count))

    async def expire_greylist(self, now: int, retry_window: int, max_age: int) -> int:
        return await self._write(lambda c: greylist.expire(c, now, retry_window, max_age))

    # sending limits
    async def record_sending(self, account_id: int, kind: str, count: int, at: int) -> None:
        await self._write(lambda c: sending.record(c, account_id, kind, count, at))

    async def sending_totals(self, account_id: int, since: int) -> dict[str, tuple[int, int]]:
        return await self._read(lambda c: sending.totals(c, account_id, since))

    async def sending_policy(self, account_id: int) -> SendingPolicy:
        return await self._read(lambda c: sending.policy(c, account_id))

    async def set_sending_limits(self, account_id: int, messages: int | None, recipients: int | None) -> None:
        await self._write(lambda c: sending.set_limits(c, account_id, messages, recipients))

    async def set_sending_held(self, account_id: int, reason: str | None) -> None:
        now = self._seconds()
        await self._write(lambda c: sending.set_held(c, account_id, reason, now))


