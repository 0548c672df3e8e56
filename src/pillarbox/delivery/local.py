"""Local delivery: put one message into the mailboxes of local accounts (and queue its remote copy).

Every path that stores mail as "delivered" comes through here: SMTP (MX and submission), the CLI's
``message add`` MDA mode, and later bounces. The final-delivery trace field ``Return-Path:`` is added
here (RFC 5321 4.4: the delivering SMTP server inserts it) and only on local copies: a copy relayed
onward must not carry one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from pillarbox.errors import NotFound, StoreError
from pillarbox.mime.transport import encode_binary_parts
from pillarbox.store.api import Store
from pillarbox.store.records import Account, Appended, DeliveryTarget, OutboundRequest, Refused

INBOX = "INBOX"


@dataclass(frozen=True)
class AccountResult:
    account: Account
    uid: int | None
    error: StoreError | None = None
    mailbox_id: int | None = None


@dataclass(frozen=True)
class DeliveryReport:
    accounts: tuple[AccountResult, ...]
    queue_id: str | None


@dataclass(frozen=True)
class RecipientOutcome:
    """What happened to one local recipient, for a delivery status notification (RFC 3464 2.3)."""

    address: str
    original: str | None
    """ORCPT, ``addr-type;address``."""
    action: str
    """``failed`` or ``delivered``."""
    status: str
    diagnostic: str | None = None


@dataclass(frozen=True)
class LocalReport:
    """A DSN owed for mail stored (or refused) at SMTP time; the queue floor formats and sends it."""

    sender: str
    envid: str | None
    ret: str | None
    message: bytes
    recipients: tuple[RecipientOutcome, ...]
    queue_id: str = ""
    """The id of the SMTP transaction the report is about, for its log line."""


def return_path_header(sender: str) -> bytes:
    return f"Return-Path: <{sender}>\r\n".encode()


class LocalDelivery:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._inboxes: dict[int, int] = {}  # INBOX is never deleted and keeps its id when renamed

    async def deliver(
        self,
        raw: bytes,
        accounts: Sequence[Account],
        *,
        return_path: str | None = None,
        folder: str = INBOX,
        flags: frozenset[str] = frozenset(),
        outbound: OutboundRequest | None = None,
        outbound_raw: bytes | None = None,
    ) -> DeliveryReport:
        """Durable when it returns; one stored copy for all local accounts.

        ``outbound_raw``: the queued copy's bytes when they differ from ``raw`` (DKIM-signed).
        """
        mailbox_of: dict[int, int] = {}
        for account in accounts:
            mailbox_id = await self._mailbox_id(account, folder)
            if mailbox_id is not None:
                mailbox_of[account.id] = mailbox_id
        targets = [DeliveryTarget(mailbox_id, flags) for mailbox_id in dict.fromkeys(mailbox_of.values())]
        local_raw = return_path_header(return_path) + raw if return_path is not None else raw
        if b"\x00" in local_raw:  # BODY=BINARYMIME (RFC 3030): stored as IMAP's BODY[] can send it
            local_raw = await asyncio.to_thread(encode_binary_parts, local_raw)
        outcome = await self.store.deliver_and_queue(
            local_raw, targets, outbound, (outbound_raw or raw) if outbound is not None else None
        )
        by_mailbox = {t.mailbox_id: result for t, result in zip(targets, outcome.results, strict=True)}
        results = []
        for account in accounts:
            if account.id not in mailbox_of:
                results.append(AccountResult(account, None, NotFound(f"no folder {folder} for {account.address}")))
            else:
                results.append(_account_result(account, by_mailbox[mailbox_of[account.id]]))
        return DeliveryReport(tuple(results), outcome.queue_id)

    async def _mailbox_id(self, account: Account, folder: str) -> int | None:
        if folder == INBOX and account.id in self._inboxes:
            return self._inboxes[account.id]
        mailbox = await self.store.get_mailbox(account.id, folder)
        if mailbox is None:
            return None
        if folder == INBOX:
            self._inboxes[account.id] = mailbox.id
        return mailbox.id


def _account_result(account: Account, result: Appended | Refused) -> AccountResult:
    if isinstance(result, Appended):
        return AccountResult(account, result.uid, mailbox_id=result.mailbox_id)
    error = result.error if isinstance(result.error, StoreError) else StoreError(str(result.error))
    return AccountResult(account, None, error)
