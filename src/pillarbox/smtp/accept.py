"""End of DATA/BDAT: trace the message, store it durably, and choose the one reply the client gets.

Local recipients get a copy in their INBOX (one stored copy for all); remote recipients (submission,
or an alias forwarding off the server) become one outbound queue entry; both in one durable step
before the 250 (principle 7). With DATA a client hears a single reply for all its recipients, so a
local copy refused after DATA (the mailbox filled up in the meantime) cannot be reported per
recipient; quotas are therefore checked at RCPT time too (452 4.2.2), which leaves only that narrow
race.

Mail that arrived on the MX and goes back out through an alias is ARC-sealed (RFC 8617) by the
forwarding domain, so that the next receiver can see what we saw even if SPF no longer aligns; only
the queued copy carries the seal, local copies are stored as received.

Mail arriving on the MX first goes through the inbound steps (``smtp/inbound.py``: sender
authentication, then the spam verdict of each local recipient); then each recipient's Sieve scripts
run (``smtp/filtering.py``) on the copy with that recipient's X-Spam-* fields, spamtest reading the
verdict, and "keep" files into the folder the verdict chose. Submitted mail counts against the
account's sending limits (``antispam/sending.py``) once it is accepted.

Mail to our rua address is then read for DMARC and TLS reports (``policy/received``) once it is
stored, before the reply: nothing that reading finds changes the reply or the stored message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from pillarbox.antispam.filter import ContentFilter
from pillarbox.antispam.sending import SendingLimits
from pillarbox.auth.directory import Directory
from pillarbox.delivery.filtering import SieveFilter
from pillarbox.delivery.local import AccountResult, DeliveryReport, LocalDelivery, LocalReport, RecipientOutcome
from pillarbox.delivery.sieve_delivery import SieveDelivery
from pillarbox.errors import NotFound, ProtocolError, QuotaExceeded, StorageFull, StoreError, StoreUnavailable
from pillarbox.mailauth import srs
from pillarbox.mailauth.arc import seal_message
from pillarbox.mailauth.dkim_sign import DKIMSigner
from pillarbox.obs import get_logger, log_event
from pillarbox.policy.inbound import InboundPolicy, SenderCheck
from pillarbox.policy.received.intake import ReportIntake
from pillarbox.policy.senders import Problem, SenderRules
from pillarbox.smtp import deliver_by, future_release, replies
from pillarbox.smtp.envelope import Transaction
from pillarbox.smtp.filtering import FilterStep, SieveFiltering, sieve_verdict
from pillarbox.smtp.inbound import INBOX, JUNK, MESSAGES, Filing, InboundSteps
from pillarbox.smtp.received import TraceInfo, received_header
from pillarbox.smtp.replies import Reply
from pillarbox.store.api import Store
from pillarbox.store.records import Account, OutboundRecipient, OutboundRequest

log = get_logger("smtp")
MAILBOX_FULL = Reply(452, "4.2.2", "Mailbox full, try again later")


class MessageAcceptor:
    def __init__(
        self, store: Store, hostname: str, policy: InboundPolicy | None = None,
        signer: DKIMSigner | None = None, on_queued: Callable[[], None] | None = None,
        reporter: Callable[[LocalReport], Awaitable[None]] | None = None, senders: SenderRules | None = None,
        sieve: SieveFilter | None = None, directory: Directory | None = None,
        spam: ContentFilter | None = None, sending: SendingLimits | None = None, reports: ReportIntake | None = None,
    ) -> None:
        self.store = store
        self.hostname = hostname
        self.delivery = LocalDelivery(store)
        self.policy = policy
        self.signer = signer
        self.on_queued = on_queued
        self.reporter = reporter
        self.filtering = SieveFiltering(
            SieveDelivery(sieve, self.delivery, directory, hostname, self._seal_for, self._sign), reporter
        ) if sieve is not None and directory is not None else None
        self.sieve = sieve
        self.senders = senders
        self.spam = spam
        self.sending = sending
        self.inbound = InboundSteps(hostname, policy, spam)
        self.reports = reports

    async def check_quota(self, accounts: Sequence[Account], declared_size: int) -> None:
        """RCPT-time quota check (RFC 9208 / the issue: 452 4.2.2 while there is no room)."""
        for account in accounts:
            if account.quota_bytes is None and account.quota_messages is None:
                continue
            used_bytes, used_messages = await self.store.account_usage(account.id)
            if account.quota_bytes is not None and used_bytes + declared_size >= account.quota_bytes:
                raise ProtocolError(MAILBOX_FULL)
            if account.quota_messages is not None and used_messages >= account.quota_messages:
                raise ProtocolError(MAILBOX_FULL)

    async def accept(
        self, content: bytes, transaction: Transaction, trace: dict[str, Any], queue_id: str, user: Account | None,
        sender: SenderCheck | None = None,
    ) -> Reply:
        """``user`` None: mail arriving on the MX (``sender``: its MAIL FROM-time SPF check), which the
        inbound steps check and file; else submission: the From:/Sender: rule (ProtocolError with the reason)."""
        filings = [Filing(INBOX, tuple(transaction.local_accounts()))]
        if user is not None:
            await self._check_authors(user, content)
        else:
            content, filings = await self.inbound.run(content, transaction, sender, trace, queue_id)
        info = TraceInfo(
            hostname=self.hostname, queue_id=queue_id, smtputf8=transaction.mail.smtputf8,
            recipients=tuple(r.address for r in transaction.recipients), **trace,
        )
        received = received_header(info, self.store.now())
        remote = transaction.remote_recipients()
        release = future_release.release_time(transaction.mail, self.store.now()) if user is not None else None
        if release is not None:  # RFC 4865: held whole, its local recipients too (the queue delivers them)
            remote, filings = remote + transaction.local_recipients(), []
        planned = await self._plan_sieve(received, content, filings, transaction)
        refusal = next((step.refusal for _, step in planned if step is not None and step.refusal is not None), None)
        if refusal is not None:
            MESSAGES.inc(result="sieve_reject")
            return refusal
        outbound, relayed = await self._outbound(received + content, transaction, remote, queue_id, user, sender,
                                                 release)
        try:
            report = await self._deliver(received, content, planned, transaction, outbound, relayed)
        except (StoreError, StoreUnavailable) as exc:
            log_event(log, "error", "delivery failed", queue_id=queue_id, error=str(exc))
            MESSAGES.inc(result="tempfail")
            # RFC 5321 4.2.2 / RFC 3463 4.3.1: a full disk is "insufficient system storage", not a bug
            return replies.INSUFFICIENT_STORAGE if isinstance(exc, StorageFull) else replies.TEMP_FAILURE
        failed = [r for r in report.accounts if r.error is not None]
        if failed and len(failed) == len(report.accounts) and report.queue_id is None:
            MESSAGES.inc(result="refused")
            quota = all(isinstance(r.error, QuotaExceeded) for r in failed)
            return replies.QUOTA_EXCEEDED if quota else replies.TEMP_FAILURE
        for result in failed:
            # the others are stored and the client will hear 250: this copy gets a bounce (DSN)
            log_event(log, "error", "local copy refused after DATA", queue_id=queue_id,
                      recipient=result.account.address, error=str(result.error))
        await self._report(transaction, report, content, queue_id)
        await self._read_reports(transaction, received + content, queue_id)
        sieve_queued = any(step is not None and step.queued for _, step in planned)
        if (report.queue_id is not None or sieve_queued) and self.on_queued is not None:
            self.on_queued()
        if user is not None and self.sending is not None:
            await self.sending.sent(user, transaction.sender, [r.address for r in transaction.recipients])
        MESSAGES.inc(result="accepted")
        return replies.MESSAGE_ACCEPTED.format(queue_id=queue_id)

    async def _plan_sieve(self, received: bytes, content: bytes, filings: list[Filing], transaction: Transaction
                          ) -> list[tuple[Filing, FilterStep | None]]:
        """Each filing with its accounts' Sieve runs (None: no Sieve). They see the filing's copy, X-Spam-*
        fields included, and spamtest reads its verdict (RFC 5235)."""
        planned: list[tuple[Filing, FilterStep | None]] = []
        for filing in filings:
            step = None
            if self.filtering is not None and filing.accounts:
                step = await self.filtering.plan(received + filing.header + content, transaction, filing.accounts,
                                                 filing.folder, sieve_verdict(filing.verdict))
            planned.append((filing, step))
        return planned

    async def _deliver(
        self, received: bytes, content: bytes, planned: list[tuple[Filing, FilterStep | None]],
        transaction: Transaction, outbound: OutboundRequest | None, relayed: bytes | None,
    ) -> DeliveryReport:
        """Store each filing's copy (the first one with the queue entry, in the same durable step), then
        carry out its Sieve runs ("keep" into the filing's folder)."""
        results: list[AccountResult] = []
        queued = None
        for filing, step in planned or [(Filing(INBOX, ()), None)]:
            message = received + filing.header + content
            accounts = filing.accounts if step is None else tuple(step.plain)
            report = await self._store_copy(message, accounts, filing.folder, transaction.sender, outbound, relayed)
            if step is not None and self.filtering is not None:
                report = await self.filtering.perform(step, report, transaction, filing.folder, content)
            if filing.folder == JUNK:
                await self._mark_filed(report)
            results += report.accounts
            queued, outbound = queued or report.queue_id, None
        return DeliveryReport(tuple(results), queued)

    async def _store_copy(
        self, message: bytes, accounts: Sequence[Account], folder: str, sender: str,
        outbound: OutboundRequest | None, relayed: bytes | None,
    ) -> DeliveryReport:
        if not accounts and outbound is None:
            return DeliveryReport((), None)
        report = await self.delivery.deliver(message, accounts, return_path=sender, outbound=outbound,
                                             folder=folder, outbound_raw=relayed)
        if folder != INBOX:
            report = await self._inbox_fallback(message, report, sender)
        return report

    async def _mark_filed(self, report: DeliveryReport) -> None:
        """The copies the filter's (or the policy's) verdict left in Junk, not a user's doing: moving them
        there taught nothing, moving them out teaches ham (``antispam/learning.py``)."""
        if self.spam is None:
            return
        copies: list[tuple[int, int]] = []
        for result in report.accounts:
            if result.uid is None:  # refused
                continue
            junk = await self.store.get_mailbox(result.account.id, JUNK)  # not when it fell back to INBOX
            if junk is not None and junk.id == result.mailbox_id:
                copies.append((junk.id, result.uid))
        await self.spam.mark_filed(copies)

    async def _check_authors(self, user: Account, content: bytes) -> None:
        refusal = await self.senders.check(user, content) if self.senders is not None else None
        if refusal is not None:
            MESSAGES.inc(result="refused")
            reply = replies.AUTHOR_NOT_OWNED if refusal.problem is Problem.NOT_OWNED else replies.AUTHOR_FIELDS_INVALID
            raise ProtocolError(reply, refusal.reason)

    async def _outbound(
        self, message: bytes, transaction: Transaction, remote: tuple[OutboundRecipient, ...], queue_id: str,
        user: Account | None, sender: SenderCheck | None, release: datetime | None,
    ) -> tuple[OutboundRequest | None, bytes | None]:
        """The queue entry for the remote recipients (held until ``release``, RFC 4865), and the queued copy
        when it differs from ``message``."""
        if not remote:
            return None, None
        mail = transaction.mail
        rewritten = await self._srs_sender(transaction) if user is None else transaction.sender
        deadline = deliver_by.deadline(mail, self.store.now())  # RFC 2852: counted from now
        outbound = OutboundRequest(
            sender=rewritten, recipients=remote, envid=mail.envid, ret=mail.ret, body=mail.body,
            smtputf8=mail.smtputf8, auth_user=user.address if user else None, queue_id=queue_id,
            requiretls=mail.requiretls,
            # RFC 6710 4: a priority above normal only from an authenticated sender (a stranger could
            # otherwise move its mail ahead of everyone's)
            priority=mail.priority if user is not None else min(mail.priority, 0),
            release_at=int(release.timestamp()) if release is not None else None,
            deliver_by=deadline.at if deadline is not None else 0,
            by_mode=deadline.mode if deadline is not None else "",
        )
        if user is not None and self.signer is not None:
            # submitted mail leaves signed; the stored queue copy is the signed one (RFC 6376)
            return outbound, await self.signer.sign(message, transaction.sender)
        if sender is not None and self.policy is not None:
            return outbound, await self._seal(message, transaction, queue_id)
        return outbound, None

    async def _read_reports(self, transaction: Transaction, message: bytes, queue_id: str) -> None:
        if self.reports is None or not self.reports.wants(r.address for r in transaction.recipients):
            return
        try:
            await self.reports.take(message, queue_id)
        except Exception as exc:  # a courtesy to the admin: the stored mail and its 250 stand whatever happens
            log_event(log, "error", "reading reports failed", queue_id=queue_id, error=str(exc))

    async def _seal(self, message: bytes, transaction: Transaction, queue_id: str) -> bytes | None:
        """The forwarded copy with an ARC set by the (first) alias domain that sends it on, or None."""
        domain = _forwarding_domain(transaction)
        if self.signer is None or not domain:
            return None
        sealed = await self._seal_for(message, domain, queue_id)
        return sealed if sealed is not message else None

    async def _seal_for(self, message: bytes, domain: str, queue_id: str = "") -> bytes:
        """``message`` ARC-sealed by ``domain`` when it can be (a seal is a courtesy: never lose mail over it)."""
        if self.signer is None:
            return message
        try:
            return await seal_message(message, await self.signer.keys(domain), self.hostname)
        except Exception as exc:
            log_event(log, "error", "ARC sealing failed", queue_id=queue_id, domain=domain, error=str(exc))
            return message

    async def _sign(self, message: bytes, sender: str) -> bytes:
        return await self.signer.sign(message, sender) if self.signer is not None else message

    async def _srs_sender(self, transaction: Transaction) -> str:
        """Mail forwarded off the server by an alias leaves with an SRS sender of the alias's domain, so
        that SPF passes at its destination and bounces find their way back (mailauth/srs.py)."""
        domain = _forwarding_domain(transaction)
        if not transaction.sender or not domain:
            return transaction.sender
        return srs.forward(transaction.sender, domain, await self.store.server_secret("srs"),
                           self.store.now().timestamp())

    async def srs_original(self, address: str) -> str:
        """The sender hidden in our SRS address (a bounce coming back), or ProtocolError (RCPT refused)."""
        secret = await self.store.server_secret("srs")
        max_age = self.sieve.settings.srs_max_age_days if self.sieve is not None else srs.MAX_AGE_DAYS
        try:
            return srs.reverse(address, secret, self.store.now().timestamp(), max_age)
        except srs.SRSError as exc:
            log_event(log, "warning", "SRS address refused", address=address, reason=str(exc))
            raise ProtocolError(replies.SRS_INVALID) from None

    async def _report(self, transaction: Transaction, report: DeliveryReport, content: bytes, queue_id: str) -> None:
        """DSNs owed at once: local copies refused after DATA (RFC 5321 6.1: once we said 250 we
        must report a failure), and NOTIFY=SUCCESS for copies stored here (RFC 3461 5.2.3)."""
        if self.reporter is None or not transaction.sender:  # a null sender never gets a DSN
            return
        outcome_of = {r.account.id: r for r in report.accounts}
        outcomes = []
        for recipient in transaction.recipients:
            notify = {n.upper() for n in recipient.rcpt.notify or ()}
            orcpt = recipient.rcpt.orcpt
            original = f"{orcpt[0]};{orcpt[1]}" if orcpt else f"rfc822;{recipient.address}"
            for account in recipient.accounts:
                result = outcome_of.get(account.id)
                if result is None:
                    continue
                if result.error is not None and "NEVER" not in notify and (not notify or "FAILURE" in notify):
                    status = "5.2.2" if isinstance(result.error, QuotaExceeded) else "5.3.0"
                    outcomes.append(RecipientOutcome(account.address, original, "failed", status,
                                                     f"smtp; 552 {status} {result.error}"))
                elif result.error is None and "SUCCESS" in notify:
                    outcomes.append(RecipientOutcome(account.address, original, "delivered", "2.0.0"))
        if outcomes:
            mail = transaction.mail
            await self.reporter(LocalReport(transaction.sender, mail.envid, mail.ret, content, tuple(outcomes),
                                            queue_id))

    async def _inbox_fallback(self, message: bytes, report: DeliveryReport, sender: str) -> DeliveryReport:
        """An account without a Junk folder (deleted by its user) gets the message in its INBOX."""
        missing = [r.account for r in report.accounts if isinstance(r.error, NotFound)]
        if not missing:
            return report
        extra = await self.delivery.deliver(message, missing, return_path=sender)
        ids = {a.id for a in missing}
        kept = tuple(r for r in report.accounts if r.account.id not in ids)
        return DeliveryReport(kept + extra.accounts, report.queue_id)


def _forwarding_domain(transaction: Transaction) -> str:
    return next((r.address.rpartition("@")[2].lower() for r in transaction.recipients if r.remote), "")

