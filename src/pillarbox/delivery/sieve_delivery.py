"""Carrying out a Sieve run's actions for one account: file, redirect (with SRS), reply while away.

Never lose mail: a folder the store refuses or cannot create, a script that fails, a redirect that
cannot be queued all end in INBOX with a log line. Each step is durable when it returns, and all of
them happen before the SMTP client hears 250 (principle 7).

Loops: a redirected copy carries ``Delivered-To: <the account>``; a message that already names the
account there, or carries ``max_delivered_to`` such fields, or our own ``X-Loop`` (set on vacation
replies), is kept instead of redirected and never gets a vacation reply.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from pillarbox.auth.directory import Directory
from pillarbox.delivery.filtering import SieveFilter
from pillarbox.delivery.local import INBOX, AccountResult, LocalDelivery
from pillarbox.errors import QuotaExceeded, StoreError
from pillarbox.mailauth import srs
from pillarbox.mime.addresses import parse_address_list
from pillarbox.obs import Counter, get_logger, log_event
from pillarbox.sieve import actions as act
from pillarbox.sieve import vacation
from pillarbox.sieve.context import SpamVerdict
from pillarbox.sieve.message import Envelope, MessageView, header_values
from pillarbox.store.records import Account, OutboundRecipient, OutboundRequest

log = get_logger("sieve")
ACTIONS = Counter("pillarbox_sieve_actions_total", "Sieve actions carried out, by kind", ("action",))
_BAD_FOLDER = re.compile(r"[*%\x00-\x1f\x7f]")

Sealer = Callable[[bytes, str], Awaitable[bytes]]
"""(message, forwarding domain) → the copy to send on (ARC-sealed when possible)."""
Signer = Callable[[bytes, str], Awaitable[bytes]]
"""(message, sender address) → the message DKIM-signed for the sender's domain when it is ours."""


@dataclass(frozen=True)
class Outcome:
    stored: AccountResult
    """The account's first stored copy (or the error), for the SMTP reply and DSNs."""
    reject: str | None = None
    queued: bool = False


class SieveDelivery:
    def __init__(self, sieve_filter: SieveFilter, local: LocalDelivery, directory: Directory, hostname: str,
                 sealer: Sealer, signer: Signer) -> None:
        self.filter = sieve_filter
        self.local = local
        self.store = local.store
        self.directory = directory
        self.hostname = hostname
        self.sealer = sealer
        self.signer = signer

    async def plan(
        self, account: Account, message: bytes, sender: str, recipient: str, spam: SpamVerdict | None,
        environment: dict[str, str], requiretls: bool = False,
    ) -> tuple[MessageView, list[act.Action]] | None:
        """The actions for this account, or None for a plain delivery (no script, or nothing but keep)."""
        view = MessageView.from_bytes(message, Envelope(sender, recipient, requiretls=requiretls))
        result = await self.filter.evaluate(account, view, spam, environment)
        if result is None:
            return None
        for line in result.log:
            log_event(log, "info", "sieve", account=account.address, note=line)
        if result.error is not None:
            log_event(log, "error", "sieve script failed: implicit keep", account=account.address,
                      error=str(result.error))
            return None
        if list(result.actions) == [act.Keep(implicit=True)]:
            return None
        return view, list(result.actions)

    async def perform(self, account: Account, view: MessageView, actions: list[act.Action], sender: str,
                      default_folder: str = INBOX) -> Outcome:
        looping = self._looping(view, account)
        reject = next((a.reason for a in actions if isinstance(a, act.Reject)), None)
        queued = False
        stored: AccountResult | None = None
        filed: set[str] = set()  # RFC 5228 2.10.3: one copy per folder, fallbacks into INBOX included
        for action in actions:
            ACTIONS.inc(action=type(action).__name__.lower())
            if isinstance(action, act.Redirect):
                if looping:
                    log_event(log, "warning", "mail loop: redirect not done, kept", account=account.address,
                              to=action.address)
                    stored = stored or await self._file(account, view, act.Keep(), sender, default_folder, filed)
                    continue
                queued = await self._redirect(account, view, action, sender) or queued
            elif isinstance(action, act.Keep | act.FileInto):
                result = await self._file(account, view, action, sender, default_folder, filed)
                stored = stored or result
            elif isinstance(action, act.Vacation) and not looping:
                queued = await self._vacation(account, view, action) or queued
            elif isinstance(action, act.Remember):
                now = self.store.now().timestamp()
                await self.filter.sieve.sieve_remember(account.id, action.key, now + action.seconds, now)
        return Outcome(stored or AccountResult(account, None), reject, queued)

    async def _may_use(self, account: Account, from_: str) -> bool:
        """The same rule as submitted mail's From: (the account's own, an alias reaching it, a grant)."""
        addresses = [a.addr_spec for a in parse_address_list(from_) if a.addr_spec]
        return len(addresses) == 1 and await self.directory.may_use(account, addresses[0])

    def _looping(self, view: MessageView, account: Account) -> bool:
        delivered_to = [v.strip().strip("<>").lower() for v in header_values(view.fields, "delivered-to")]
        ours = any(v.strip().lower() == self._loop_marker() for v in header_values(view.fields, "x-loop"))
        return (ours or account.address.lower() in delivered_to
                or len(delivered_to) >= self.filter.settings.max_delivered_to)

    def _loop_marker(self) -> str:
        return f"pillarbox@{self.hostname}".lower()

    def _bytes(self, view: MessageView, headers: bytes | None) -> bytes:
        if headers is None:
            return view.raw
        return headers + b"\r\n" + view.raw[view.body_start :]

    async def _file(self, account: Account, view: MessageView, action: act.Keep | act.FileInto, sender: str,
                    default_folder: str, filed: set[str]) -> AccountResult | None:
        folder = action.mailbox if isinstance(action, act.FileInto) else default_folder
        flags = frozenset(action.flags or ())
        raw = self._bytes(view, action.headers)
        if isinstance(action, act.FileInto) and not await self._folder_ready(account, folder, action.create):
            folder = INBOX
        if folder in filed:
            return None
        filed.add(folder)
        report = await self.local.deliver(raw, [account], return_path=sender, folder=folder, flags=flags)
        result = report.accounts[0]
        if result.error is not None and folder != INBOX and not isinstance(result.error, QuotaExceeded):
            log_event(log, "error", "fileinto failed: delivered to INBOX", account=account.address, folder=folder,
                      error=str(result.error))
            if INBOX in filed:
                return None
            filed.add(INBOX)
            result = (await self.local.deliver(raw, [account], return_path=sender, flags=flags)).accounts[0]
        return result

    async def _folder_ready(self, account: Account, folder: str, create: bool) -> bool:
        if _BAD_FOLDER.search(folder) or folder.startswith("/") or "//" in folder:
            log_event(log, "error", "fileinto refused folder name: delivered to INBOX", account=account.address,
                      folder=folder)
            return False
        if await self.store.get_mailbox(account.id, folder) is not None:
            return True
        if not create:
            log_event(log, "error", "fileinto a missing folder: delivered to INBOX", account=account.address,
                      folder=folder)
            return False
        parts = folder.rstrip("/").split("/")
        try:
            for depth in range(1, len(parts) + 1):
                name = "/".join(parts[:depth])
                if await self.store.get_mailbox(account.id, name) is None:
                    await self.store.create_mailbox(account.id, name)
        except StoreError as error:
            log_event(log, "error", "fileinto :create failed: delivered to INBOX", account=account.address,
                      folder=folder, error=str(error))
            return False
        return True

    async def _redirect(self, account: Account, view: MessageView, action: act.Redirect, sender: str) -> bool:
        """Queue the copy: sender rewritten with SRS, Delivered-To added, ARC-sealed (RFC 5228 4.2)."""
        domain = account.address.rpartition("@")[2]
        raw = f"Delivered-To: {account.address}\r\n".encode() + self._bytes(view, action.headers)
        target_domain = action.address.rpartition("@")[2]
        if await self.directory.is_local_domain(target_domain):
            resolution = await self.directory.resolve(action.address)
            if resolution.accounts:  # a local target gets the copy without its own scripts (no loops)
                await self.local.deliver(raw, resolution.accounts, return_path=sender)
            remote = list(resolution.remote)
        else:
            remote = [action.address]
        if not remote:
            return False
        secret = await self.store.server_secret("srs")
        rewritten = srs.forward(sender, domain, secret, self.store.now().timestamp()) if sender else ""
        sealed = await self.sealer(raw, domain)
        outbound = OutboundRequest(rewritten, tuple(OutboundRecipient(a, f"rfc822;{a}") for a in remote),
                                   requiretls=view.envelope.requiretls)  # RFC 8689 6: the copy keeps it
        await self.store.deliver_and_queue(sealed, [], outbound, sealed)
        log_event(log, "info", "redirected", account=account.address, to=action.address, sender=rewritten)
        return True

    async def _vacation(self, account: Account, view: MessageView, action: act.Vacation) -> bool:
        own = frozenset({account.address})
        why_not = vacation.refusal(view, action, own)
        if why_not is not None:
            log_event(log, "info", "no vacation reply", account=account.address, reason=why_not)
            return False
        key = vacation.tracking_key(action, view.envelope.sender)
        now = self.store.now()
        if await self.filter.sieve.sieve_seen(account.id, key, now.timestamp()):
            return False
        if action.from_ and not await self._may_use(account, action.from_):
            # RFC 5230 4.4: :from must be one of the user's addresses; never a way around the sender rules
            log_event(log, "warning", "vacation :from is not the user's: replying from the account",
                      account=account.address, given=action.from_)
            action = replace(action, from_=None)
        reply = vacation.build_reply(view, action, account.address, now, self.hostname)
        reply = f"X-Loop: {self._loop_marker()}\r\n".encode() + reply
        reply = await self.signer(reply, account.address)
        recipient = view.envelope.sender
        if await self.directory.is_local_domain(recipient.rpartition("@")[2]):
            resolution = await self.directory.resolve(recipient)
            await self.local.deliver(reply, resolution.accounts, return_path="")
        else:
            # RFC 8689 6: the reply quotes the original's subject: it requires TLS when the original did
            outbound = OutboundRequest("", (OutboundRecipient(recipient, f"rfc822;{recipient}"),),
                                       requiretls=view.envelope.requiretls)
            await self.store.deliver_and_queue(reply, [], outbound, reply)
        await self.filter.sieve.sieve_remember(account.id, key, now.timestamp() + action.seconds, now.timestamp())
        log_event(log, "info", "vacation reply sent", account=account.address, to=recipient)
        return True

