"""The content filter at the end of DATA: one scan per message (rspamd), one judgement per recipient.

Order, for each local recipient: the user's block list (always Junk), the user's allow list (never
Junk, unless DMARC failed), rspamd's verdict when it says junk, then the user's own classifier. The
message-level outcomes (rspamd's reject or soft reject, or rspamd unreachable with
``rspamd_failure = "tempfail"``) come before any of that and refuse the message for every recipient.

The built-in classifier's features are computed once per message, in a thread when the message is
large, and only when some recipient has a trained classifier.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from pillarbox.antispam import lists
from pillarbox.antispam.classifier import classify
from pillarbox.antispam.rspamd import RspamdClient, RspamdError, ScanFacts
from pillarbox.antispam.tokens import features
from pillarbox.antispam.verdict import HAM, JUNK, REJECT, TEMPFAIL, SpamVerdict
from pillarbox.config import AntispamConfig
from pillarbox.mime.addresses import parse_address_list
from pillarbox.mime.header_view import HeaderView
from pillarbox.obs import Counter, get_logger, log_event
from pillarbox.store.api import AntispamStore
from pillarbox.store.records import Account

log = get_logger("antispam")
VERDICTS = Counter("pillarbox_antispam_verdicts_total", "Spam verdicts per recipient (and per refused message)",
                   ("verdict", "source"))
RSPAMD_FAILURES = Counter("pillarbox_antispam_rspamd_failures_total", "rspamd scans that failed")
INLINE_FEATURES_LIMIT = 32 * 1024


@dataclass
class Message:
    """One message being judged, with what is computed once for all its recipients."""

    raw: bytes
    view: HeaderView
    envelope_sender: str
    unauthenticated: bool = False
    """DMARC failed (or SPF failed where there is no DMARC): allow lists do not apply."""
    _tokens: dict[int, str] | None = field(default=None, repr=False)

    def senders(self) -> list[str]:
        found = [a.addr_spec for value in self.view.values("from") for a in parse_address_list(value) if a.host]
        return found + ([self.envelope_sender] if self.envelope_sender else [])

    async def tokens(self) -> dict[int, str]:
        if self._tokens is None:
            if len(self.raw) <= INLINE_FEATURES_LIMIT:
                self._tokens = features(self.raw, self.view)
            else:
                self._tokens = await asyncio.to_thread(features, self.raw, self.view)
        return self._tokens


class ContentFilter:
    def __init__(self, store: AntispamStore, settings: AntispamConfig, rspamd: RspamdClient | None = None) -> None:
        self.store = store
        self.settings = settings
        self.rspamd = rspamd

    async def scan(self, raw: bytes, facts: ScanFacts) -> SpamVerdict | None:
        """rspamd's verdict on the message (None: no rspamd, or it failed and we fail open)."""
        if self.rspamd is None:
            return None
        try:
            verdict = await self.rspamd.check(raw, facts)
        except RspamdError as exc:
            RSPAMD_FAILURES.inc()
            failing_open = self.settings.rspamd_failure == "accept"
            log_event(log, "error", "rspamd scan failed", queue_id=facts.queue_id, error=str(exc),
                      then="delivered unscanned" if failing_open else "451 to the client")
            return None if failing_open else SpamVerdict(TEMPFAIL, 0.0, 0.0, "rspamd", ("RSPAMD_UNAVAILABLE",))
        if verdict.action in (REJECT, TEMPFAIL):  # refused for every recipient: counted once, here
            VERDICTS.inc(verdict=verdict.action, source="rspamd")
        return verdict

    async def judge(self, account: Account, message: Message, scanned: SpamVerdict | None) -> SpamVerdict | None:
        """This recipient's verdict (None: nothing judged the message, it goes where it would have)."""
        verdict = await self._listed(account, message) or _junk(scanned) or await self._classified(account, message)
        verdict = verdict or scanned
        if verdict is not None:
            VERDICTS.inc(verdict=verdict.action, source=verdict.source)
        return verdict

    async def _listed(self, account: Account, message: Message) -> SpamVerdict | None:
        senders = message.senders()
        patterns = sorted({p for sender in senders for p in lists.candidates(sender)})
        rules = await self.store.sender_rules(account.id, patterns) if patterns else {}
        decision = lists.decide(rules, senders)
        if decision is None:
            return None
        action, pattern = decision
        threshold = self.settings.junk_threshold
        if action == lists.BLOCK:
            return SpamVerdict(JUNK, 1.0, threshold, "blocklist", (f"BLOCKLIST({pattern})",))
        if message.unauthenticated:
            return None
        return SpamVerdict(HAM, 0.0, threshold, "allowlist", (f"ALLOWLIST({pattern})",))

    async def _classified(self, account: Account, message: Message) -> SpamVerdict | None:
        if not self.settings.classifier:
            return None
        trained = await self.store.spam_counts(account.id, [])
        if not trained.spam_messages or not trained.ham_messages:
            return None  # not trained yet (classifier.py): no need to look at the message
        tokens = await message.tokens()
        classified = classify(await self.store.spam_counts(account.id, list(tokens)), tokens)
        if classified is None:
            return None
        threshold = self.settings.junk_threshold
        action = JUNK if classified.probability >= threshold else HAM
        return SpamVerdict(action, classified.probability, threshold, "bayes",
                           ("BAYES_SPAM" if action == JUNK else "BAYES_HAM",))

    async def mark_filed(self, junk_copies: Sequence[tuple[int, int]]) -> None:
        """(mailbox id, UID) of the copies the filter filed into Junk: moving them in taught nothing."""
        for mailbox_id, uid in junk_copies:
            await self.store.spam_mark_filed(mailbox_id, [uid])


def _junk(verdict: SpamVerdict | None) -> SpamVerdict | None:
    return verdict if verdict is not None and verdict.is_junk else None
