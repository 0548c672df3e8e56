"""Sieve at the end of DATA: which local recipients are filtered, and what the SMTP client hears.

Each local account's scripts run once, after the sender-authentication verdict and the spam verdict
(``smtp/inbound.py``), which spamtest reads (RFC 5235; "not tested" when there is no spam filter, or
for submitted mail). Accounts whose run ends in a plain keep join the ordinary one-copy delivery; the
others are carried out by ``SieveDelivery``.

``reject`` (RFC 5429 2.1): when the rejecting account's recipient is the only one of the transaction
the client hears ``550 5.7.1`` with the reason, and nothing is stored; with other recipients the
client must hear 250 for them, so the rejection goes to the sender by mail, as a DSN.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from pillarbox.antispam import verdict as antispam
from pillarbox.delivery.local import DeliveryReport, LocalReport, RecipientOutcome
from pillarbox.delivery.sieve_delivery import SieveDelivery
from pillarbox.sieve import actions as act
from pillarbox.sieve.context import NO_VERDICT, SpamVerdict
from pillarbox.sieve.message import MessageView
from pillarbox.smtp import replies
from pillarbox.smtp.envelope import Transaction
from pillarbox.smtp.replies import Reply
from pillarbox.store.records import Account

MAX_REASON = 200


@dataclass
class FilterStep:
    plain: list[Account]
    filtered: list[tuple[Account, MessageView, list[act.Action]]] = field(default_factory=list)
    refusal: Reply | None = None
    queued: bool = False


def one_line(reason: str) -> str:
    """A reason fit for an SMTP reply line: printable ASCII, one line, bounded."""
    text = " ".join(reason.split())
    return "".join(c if " " <= c <= "~" else "?" for c in text)[:MAX_REASON] or "no reason given"


def sieve_verdict(verdict: antispam.SpamVerdict | None) -> SpamVerdict | None:
    """The spam filter's verdict as spamtest and spamtestplus read it."""
    return NO_VERDICT if verdict is None else SpamVerdict(verdict.sieve_score, verdict.percent)


class SieveFiltering:
    def __init__(self, delivery: SieveDelivery, reporter: Callable[[LocalReport], Awaitable[None]] | None) -> None:
        self.delivery = delivery
        self.reporter = reporter

    def environment(self) -> dict[str, str]:
        """RFC 5183 4: the items we can tell a script."""
        host = self.delivery.hostname
        return {"domain": host.partition(".")[2] or host, "host": host, "location": "MDA", "name": "Pillarbox",
                "phase": "during", "version": "0.1"}

    async def plan(self, message: bytes, transaction: Transaction, accounts: Sequence[Account], folder: str,
                   spam: SpamVerdict | None = NO_VERDICT) -> FilterStep:
        recipient_of = {a.id: r.address for r in transaction.recipients for a in r.accounts}
        step = FilterStep([])
        for account in accounts:
            planned = await self.delivery.plan(account, message, transaction.sender,
                                               recipient_of.get(account.id, account.address), spam,
                                               self.environment(), transaction.mail.requiretls)
            if planned is None:
                step.plain.append(account)
            else:
                step.filtered.append((account, *planned))
        # ``accounts`` may be the part of them that got one spam verdict: count them all
        only = (len(transaction.recipients) == 1 and len(transaction.local_accounts()) == 1
                and not transaction.remote_recipients())
        for _account, _view, actions in step.filtered:
            reject = next((a for a in actions if isinstance(a, act.Reject)), None)
            if reject is not None and only:
                step.refusal = replies.SIEVE_REJECTED.format(reason=one_line(reject.reason))
        return step

    async def perform(self, step: FilterStep, report: DeliveryReport, transaction: Transaction, folder: str,
                      content: bytes) -> DeliveryReport:
        results = []
        rejected: list[RecipientOutcome] = []
        for account, view, actions in step.filtered:
            outcome = await self.delivery.perform(account, view, actions, transaction.sender, folder)
            results.append(outcome.stored)
            step.queued = step.queued or outcome.queued
            if outcome.reject is not None:
                rejected.append(RecipientOutcome(account.address, f"rfc822;{account.address}", "failed", "5.7.1",
                                                 f"smtp; 550 5.7.1 {one_line(outcome.reject)}"))
        if rejected and self.reporter is not None and transaction.sender:
            mail = transaction.mail
            await self.reporter(LocalReport(transaction.sender, mail.envid, mail.ret, content, tuple(rejected)))
        return DeliveryReport(report.accounts + tuple(results), report.queue_id)
