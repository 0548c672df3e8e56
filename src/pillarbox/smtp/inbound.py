"""What the MX does with a message between the end of DATA and storing it: who sent it, is it spam.

The header section is parsed once here (``mime/header_view.py``) and that view serves DMARC and the
spam filter (principle 3). Steps, in order:

1. fields that only we may write are removed from what arrived: Authentication-Results with our
   authserv-id, and the X-Spam-* fields (``antispam/verdict.py``);
2. SPF/DKIM/ARC/DMARC (``policy/inbound.py``): may refuse the message, or send it to Junk;
3. rspamd, when configured: may refuse the message (550 5.7.1, 451 4.7.1);
4. per local recipient, the allow/block lists and the classifier (``antispam/filter.py``).

The result is a list of ``Filing``: which accounts get the message in which folder with which
X-Spam-* fields. Recipients judged alike share one stored copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pillarbox.antispam.filter import ContentFilter, Message
from pillarbox.antispam.rspamd import ScanFacts
from pillarbox.antispam.verdict import REJECT, TEMPFAIL, SpamVerdict, remove_spam_fields
from pillarbox.errors import ProtocolError
from pillarbox.mailauth.authresults import remove_ours
from pillarbox.mime.header_view import HeaderView
from pillarbox.obs import Counter, get_logger, log_event
from pillarbox.policy.inbound import Action, Decision, InboundPolicy, SenderCheck
from pillarbox.smtp import replies
from pillarbox.smtp.envelope import Transaction
from pillarbox.smtp.replies import Reply
from pillarbox.store.records import Account

log = get_logger("smtp")
MESSAGES = Counter("pillarbox_smtp_messages_total", "Messages at end of data, by result", ("result",))
INBOX, JUNK = "INBOX", "Junk"


@dataclass(frozen=True)
class Filing:
    folder: str
    accounts: tuple[Account, ...]
    header: bytes = b""
    """Fields that go right below our Received: (the X-Spam-* fields of these accounts' verdict)."""
    verdict: SpamVerdict | None = field(default=None, compare=False)


class InboundSteps:
    def __init__(self, hostname: str, policy: InboundPolicy | None, spam: ContentFilter | None) -> None:
        self.hostname = hostname
        self.policy = policy
        self.spam = spam

    async def run(self, content: bytes, transaction: Transaction, sender: SenderCheck | None,
                  trace: dict[str, Any], queue_id: str) -> tuple[bytes, list[Filing]]:
        """(the message to store below our Received:, where it goes); ProtocolError when refused."""
        content = self._without_forged_fields(content, queue_id)
        view = HeaderView.parse(content)
        folder, unauthenticated = INBOX, False
        if sender is not None and self.policy is not None:
            evaluation = await self.policy.evaluate(content, sender, view)
            decision = evaluation.decision
            transaction.verdict = (decision.action.value, decision.reason or None)
            _refuse_for(decision)
            content = evaluation.header + content
            folder = JUNK if decision.action is Action.JUNK else INBOX
            # a DMARC fail, or the SPF fail that sent it to Junk: its From: is not to be trusted by an allow list
            unauthenticated = folder == JUNK or any(v.result == "fail" for v in evaluation.dmarc)
        accounts = transaction.local_accounts()
        if self.spam is None:
            return content, [Filing(folder, tuple(accounts))]
        message = Message(content, view, transaction.sender, unauthenticated)
        return content, await self._judge(message, transaction, trace, queue_id, accounts, folder)

    def _without_forged_fields(self, content: bytes, queue_id: str) -> bytes:
        content, forged = remove_ours(content, self.hostname)
        if self.spam is not None:
            content, spam_fields = remove_spam_fields(content)
            forged += spam_fields
        if forged:
            log_event(log, "info", "removed forged fields", queue_id=queue_id, count=forged)
        return content

    async def _judge(self, message: Message, transaction: Transaction, trace: dict[str, Any], queue_id: str,
                     accounts: Sequence[Account], folder: str) -> list[Filing]:
        assert self.spam is not None
        facts = ScanFacts(trace["client_ip"], trace["helo"], transaction.sender,
                          [r.address for r in transaction.recipients], queue_id, self.hostname)
        scanned = await self.spam.scan(message.raw, facts)
        if scanned is not None and scanned.action in (REJECT, TEMPFAIL):
            transaction.spam = scanned
            MESSAGES.inc(result=f"spam_{scanned.action}")
            raise ProtocolError(_spam_refusal(scanned), ",".join(scanned.reasons))
        groups: dict[tuple[str, bytes], list[Account]] = {}
        verdicts: dict[tuple[str, bytes], SpamVerdict | None] = {}
        for account in accounts:
            verdict = await self.spam.judge(account, message, scanned)
            target = JUNK if verdict is not None and verdict.is_junk else folder
            key = (target, verdict.header_fields(self.hostname) if verdict is not None else b"")
            groups.setdefault(key, []).append(account)
            verdicts.setdefault(key, verdict)
            transaction.spam = _stronger(transaction.spam, verdict)
        return [Filing(target, tuple(members), header, verdicts[(target, header)])
                for (target, header), members in groups.items()]


def _refuse_for(decision: Decision) -> None:
    """The inbound policy's refusal, as the SMTP reply (nothing: deliver)."""
    if decision.action in (Action.TEMPFAIL, Action.REJECT):
        MESSAGES.inc(result=decision.action.value)
    if decision.action is Action.TEMPFAIL:
        raise ProtocolError(replies.DMARC_TEMP_FAILURE.format(domain=decision.domain))
    if decision.action is Action.REJECT:
        template = replies.DMARC_REJECTED if decision.method == "dmarc" else replies.SPF_REJECTED
        raise ProtocolError(template.format(domain=decision.domain))


def _spam_refusal(verdict: SpamVerdict) -> Reply:
    if verdict.action == REJECT:
        return replies.SPAM_REJECTED
    return replies.SPAM_DEFERRED if verdict.reasons != ("RSPAMD_UNAVAILABLE",) else replies.FILTER_UNAVAILABLE


def _stronger(current: SpamVerdict | None, new: SpamVerdict | None) -> SpamVerdict | None:
    """The verdict for the transaction's log line: a junk one over a clean one, else the first."""
    if current is None or (new is not None and new.is_junk and not current.is_junk):
        return new
    return current
