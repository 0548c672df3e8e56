"""Outbound abuse: a stolen password must not turn the server into a spam source.

Each account may send ``max_messages_per_hour`` messages to ``max_recipients_per_hour`` recipients
(a sliding hour; per-account values set with ``pillarbox antispam limits`` replace the defaults;
0 means no limit). Beyond them the submission session answers ``451 4.7.1`` (at MAIL FROM for
messages, at RCPT TO for recipients), so a legitimate client's queue retries once the hour has moved
on. The counts live in the store: every worker and node counts the same messages.

An account that hits a limit, or whose mail bounced ``max_bounces_per_hour`` times in the last hour
(recipients refused for good), is a suspect: logged, counted in /metrics, and with
``hold_suspects = true`` held: every submission from it is refused (550 5.7.1) until an
administrator releases it (``pillarbox antispam release``). Accepted mail also remembers its
recipients as the sender's correspondents (``lists.py``: allowed when they write back).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from pillarbox.antispam.lists import CORRESPONDENTS_KEPT
from pillarbox.config import AntispamConfig
from pillarbox.obs import Counter, get_logger, log_event
from pillarbox.store.api import AntispamStore
from pillarbox.store.records import Account

log = get_logger("antispam")
SUSPECTS = Counter("pillarbox_antispam_suspect_accounts_total",
                   "Accounts found over a sending limit or bouncing a lot, by reason", ("reason",))
HOUR = 3600


class SendingStore(AntispamStore, Protocol):
    async def get_account(self, address: str) -> Account | None: ...


@dataclass(frozen=True)
class LimitReached:
    what: str
    """``messages``, ``recipients`` or ``held``."""
    limit: int = 0


class SendingLimits:
    def __init__(self, store: SendingStore, settings: AntispamConfig, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock

    async def check_message(self, account: Account) -> LimitReached | None:
        """At MAIL FROM: a held account, or the hour's messages already sent."""
        policy = await self.store.sending_policy(account.id)
        if policy.held_reason is not None:
            return LimitReached("held")
        limit = _limit(policy.messages_per_hour, self.settings.max_messages_per_hour)
        sent, _ = (await self._totals(account)).get("message", (0, 0))
        return await self._over(account, "messages", limit) if limit and sent >= limit else None

    async def check_recipient(self, account: Account, in_transaction: int) -> LimitReached | None:
        """At RCPT TO: the hour's recipients plus those of this transaction so far."""
        policy = await self.store.sending_policy(account.id)
        limit = _limit(policy.recipients_per_hour, self.settings.max_recipients_per_hour)
        _, recipients = (await self._totals(account)).get("message", (0, 0))
        if limit and recipients + in_transaction >= limit:
            return await self._over(account, "recipients", limit)
        return None

    async def sent(self, account: Account, sender: str, recipients: Sequence[str]) -> None:
        """A submitted message was accepted: count it, and remember whom the user writes to."""
        await self.store.record_sending(account.id, "message", len(recipients), int(self.clock()))
        addresses = sorted({r.lower() for r in recipients if "@" in r and r.lower() != sender.lower()})
        if addresses:
            await self.store.remember_correspondents(account.id, addresses, CORRESPONDENTS_KEPT)

    async def bounced(self, address: str, count: int) -> None:
        """The queue gave up on ``count`` recipients of a message ``address`` submitted."""
        account = await self.store.get_account(address)
        if account is None or count <= 0:
            return
        await self.store.record_sending(account.id, "bounce", count, int(self.clock()))
        limit = self.settings.max_bounces_per_hour
        _, bounces = (await self._totals(account)).get("bounce", (0, 0))
        if limit and bounces >= limit:
            await self._suspect(account, "bounces", f"{bounces} bounces in an hour")

    async def _totals(self, account: Account) -> dict[str, tuple[int, int]]:
        return await self.store.sending_totals(account.id, int(self.clock()) - HOUR)

    async def _over(self, account: Account, what: str, limit: int) -> LimitReached:
        await self._suspect(account, what, f"over {limit} {what} per hour")
        return LimitReached(what, limit)

    async def _suspect(self, account: Account, reason: str, detail: str) -> None:
        SUSPECTS.inc(reason=reason)
        hold = self.settings.hold_suspects
        log_event(log, "warning", "suspicious sending", user=account.address, reason=detail,
                  then="held" if hold else "reported")
        if hold:
            await self.store.set_sending_held(account.id, detail)


def _limit(own: int | None, default: int) -> int:
    return own if own is not None else default
