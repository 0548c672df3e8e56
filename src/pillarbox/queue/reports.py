"""Which delivery status notifications a queue entry owes its sender, and sending them.

RFC 3461 4.1: NOTIFY=NEVER means no DSN at all; otherwise a list of SUCCESS, FAILURE, DELAY. With no
NOTIFY the default is "FAILURE or FAILURE,DELAY" at the MTA's choice; we take FAILURE,DELAY. A
recipient handed to a peer that speaks DSN (state ``sent``) is the peer's to report (RFC 3461 5.2.2);
one relayed to a peer without DSN gets a "relayed" report when SUCCESS was asked; one stored here
gets "delivered". Each action is reported once per recipient (``reported`` in the store). Bounces
for local senders go straight into their mailbox; for remote senders they are queued with the null
reverse-path, and a message from the null sender never gets a DSN (no bounce loops).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pillarbox.auth.directory import Directory
from pillarbox.delivery.local import LocalDelivery, LocalReport
from pillarbox.mailauth import srs
from pillarbox.mailauth.dkim_sign import DKIMSigner
from pillarbox.obs import get_logger, log_event
from pillarbox.queue.dsn import RecipientReport, Report, build_dsn
from pillarbox.queue.schedule import RetryPolicy
from pillarbox.store.records import OutboundRecipient, OutboundRequest, QueuedMessage, QueuedRecipient

log = get_logger("queue")

STATE_ACTION = {"failed": ("failed", "FAILURE"), "relayed": ("relayed", "SUCCESS"),
                "delivered": ("delivered", "SUCCESS"), "pending": ("delayed", "DELAY")}


def wants(recipient: QueuedRecipient, kind: str) -> bool:
    notify = {n.upper() for n in recipient.notify}
    if "NEVER" in notify:
        return False
    if not notify:
        return kind in ("FAILURE", "DELAY")
    return kind in notify


def due_actions(entry: QueuedMessage, policy: RetryPolicy, now: int) -> dict[int, str]:
    """position -> action to report now."""
    due = {}
    for r in entry.recipients:
        if r.state not in STATE_ACTION:
            continue
        action, kind = STATE_ACTION[r.state]
        if action in r.reported or not wants(r, kind):
            continue
        if r.state == "pending" and not (policy.delay_due(entry.created, now) or _by_passed(entry, now)):
            continue
        due[r.position] = action
    return due


def _by_passed(entry: QueuedMessage, now: int) -> bool:
    """RFC 2852 by-mode N: the deadline has passed, a "delayed" DSN is owed (4.4.7)."""
    return entry.by_mode.startswith("N") and 0 < entry.deliver_by <= now


def recipient_report(entry: QueuedMessage, r: QueuedRecipient, action: str, policy: RetryPolicy,
                     now: int = 0) -> RecipientReport:
    status = r.status or {"failed": "5.0.0", "delayed": "4.0.0"}.get(action, "2.0.0")
    if action == "delayed" and _by_passed(entry, now):
        status = "4.4.7"  # RFC 2852 4.1.4: delivery time expired
    if action == "failed" and status.startswith("4"):
        status = "5" + status[1:]
    if action in ("delivered", "relayed") and not status.startswith("2"):
        status = "2.0.0"
    return RecipientReport(
        address=r.address, action=action, status=status, original=r.orcpt, remote_mta=r.remote_mta,
        diagnostic=r.last_error, last_attempt=None,
        will_retry_until=entry.created + policy.max_age if action == "delayed" else None,
    )


class Reporter:
    """Sends what the server itself writes (DSNs, and through ``send`` the DMARC and TLS reports),
    from ``MAILER-DAEMON@hostname`` with a null reverse-path, DKIM-signed when ``signer`` is given."""

    def __init__(self, store: object, directory: Directory, hostname: str, policy: RetryPolicy,
                 poke: Callable[[], None], signer: DKIMSigner | None = None) -> None:
        self.store = store
        self.directory = directory
        self.local = LocalDelivery(store)  # type: ignore[arg-type]
        self.hostname = hostname
        self.policy = policy
        self.poke = poke
        self.signer = signer

    async def report(self, entry: QueuedMessage, now: int) -> None:
        due = due_actions(entry, self.policy, now)
        if not due:
            return
        if entry.sender:
            by_position = {r.position: r for r in entry.recipients}
            reports = tuple(recipient_report(entry, by_position[p], a, self.policy, now)
                            for p, a in due.items())
            original = await self.store.read_message(entry.message_id)  # type: ignore[attr-defined]
            # RFC 8689 5: a REQUIRETLS message's report carries its headers only, and requires TLS too
            ret = "HDRS" if entry.requiretls else entry.ret
            dsn = build_dsn(Report(self.hostname, entry.sender, reports, original, entry.created, entry.envid,
                                   ret), now)
            self._log(entry.id, entry.sender, reports, await self._send(entry.sender, dsn, entry.requiretls))
        for action in set(due.values()):
            positions = [p for p, a in due.items() if a == action]
            await self.store.mark_queue_reported(entry.id, positions, action)  # type: ignore[attr-defined]

    async def report_local(self, local: LocalReport) -> None:
        """The DSN for mail handled at SMTP time (see smtp/accept.py); same format, same sending."""
        now = int(time.time())
        reports = tuple(
            RecipientReport(address=o.address, action=o.action, status=o.status, original=o.original,
                            remote_mta=None, diagnostic=o.diagnostic)
            for o in local.recipients
        )
        dsn = build_dsn(Report(self.hostname, local.sender, reports, local.message, now, local.envid, local.ret), now)
        self._log(local.queue_id, local.sender, reports, await self._send(local.sender, dsn))

    @staticmethod
    def _log(queue_id: str, to: str, reports: tuple[RecipientReport, ...], dsn_queue_id: str | None) -> None:
        """The DSN's line carries the id of the message it reports on; ``dsn_queue_id`` is its own."""
        log_event(log, "info", "dsn", queue_id=queue_id, to=to,
                  actions=",".join(sorted({r.action for r in reports})),
                  recipients=",".join(r.address for r in reports), dsn_queue_id=dsn_queue_id)

    async def send(self, to: str, message: bytes) -> None:
        """Deliver or queue a report the server writes (DMARC, TLS-RPT) to ``to``."""
        await self._send(to, message)

    async def _send(self, to: str, dsn: bytes, requiretls: bool = False) -> str | None:
        """``send``, returning the queue id when (some of) it was queued."""
        dsn = await self._signed(dsn)
        domain = to.rpartition("@")[2]
        if srs.is_srs(to) and await self.directory.is_local_domain(domain):
            original = await self._srs_original(to)
            if original is None:
                return
            to, domain = original, original.rpartition("@")[2]
        if await self.directory.is_local_domain(domain):
            resolution = await self.directory.resolve(to)
            if resolution.accounts:
                await self.local.deliver(dsn, resolution.accounts, return_path="")
            targets = resolution.remote
        else:
            targets = [to]
        if not targets:
            return None
        request = OutboundRequest(sender="", recipients=tuple(OutboundRecipient(t) for t in targets),
                                  requiretls=requiretls)
        await self.store.deliver_and_queue(b"", [], request, dsn)  # type: ignore[attr-defined]
        self.poke()
        return request.queue_id

    async def _srs_original(self, address: str) -> str | None:
        """A bounce of mail we forwarded goes to the sender hidden in our SRS address (mailauth/srs.py)."""
        secret = await self.store.server_secret("srs")  # type: ignore[attr-defined]
        try:
            return srs.reverse(address, secret, time.time())
        except srs.SRSError as exc:
            log_event(log, "warning", "report to an invalid SRS address dropped", address=address, reason=str(exc))
            return None

    async def _signed(self, message: bytes) -> bytes:
        """Signed by the served domain that is the host name or its closest parent (mx.example.com:
        example.com), which DMARC's relaxed alignment accepts for From: MAILER-DAEMON@mx.example.com
        (RFC 7489 3.1.1); unsigned if the host name is under none of our domains."""
        if self.signer is None:
            return message
        labels = self.hostname.split(".")
        for start in range(len(labels) - 1):
            domain = ".".join(labels[start:])
            if await self.directory.is_local_domain(domain):
                return await self.signer.sign_for_domain(message, domain)
        return message
