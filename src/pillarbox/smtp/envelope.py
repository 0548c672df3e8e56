"""The SMTP transaction's envelope rules: who may send, who may receive (MX vs submission).

MX (port 25) accepts mail only for our domains and relays nothing: a recipient in a foreign domain
is refused 5.7.1, whatever tricks the address uses: RFC 5321 4.1.1.3 says source routes are to be
ignored (the route is dropped by the grammar, the final address decides), and the "%-hack"
(``user%other@us``) and bang paths (``host!user@us``) are refused outright rather than risk a
forwarding interpretation somewhere downstream. Submission (587/465) requires authentication and
accepts any recipient, but the sender must be an address the authenticated user owns.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from pillarbox.address import AddressError, split_address
from pillarbox.antispam.verdict import SpamVerdict
from pillarbox.auth.directory import Directory
from pillarbox.errors import ProtocolError
from pillarbox.mailauth.srs import is_srs
from pillarbox.net.spool import Spool
from pillarbox.smtp import replies
from pillarbox.smtp.grammar import MailFrom, RcptTo
from pillarbox.store.records import Account, OutboundRecipient


class Role(enum.Enum):
    MX = "smtp"
    SUBMISSION = "submission"
    SUBMISSIONS = "submissions"

    @property
    def is_submission(self) -> bool:
        return self is not Role.MX


@dataclass
class Recipient:
    address: str
    rcpt: RcptTo
    accounts: list[Account]
    remote: list[str]


@dataclass
class Transaction:
    mail: MailFrom
    recipients: list[Recipient] = field(default_factory=list)
    body: Spool | None = None
    """The content received so far (DATA, or the BDAT chunks); closed when the transaction ends."""
    verdict: tuple[str, str | None] | None = None
    """MX role: the sender-authentication decision (action, reason), for the transaction's log line."""
    spam: SpamVerdict | None = None
    """MX role: the spam verdict (the strongest of its recipients'), for the transaction's log line."""

    def close(self) -> None:
        """The transaction is over, however it ended: let its body go."""
        if self.body is not None:
            self.body.close()
            self.body = None

    @property
    def sender(self) -> str:
        return self.mail.address or ""

    def local_accounts(self) -> list[Account]:
        unique: dict[int, Account] = {}
        for recipient in self.recipients:
            for account in recipient.accounts:
                unique.setdefault(account.id, account)
        return list(unique.values())

    def local_recipients(self) -> tuple[OutboundRecipient, ...]:
        """The recipients that reach local accounts, by the address given (the queue resolves it again
        when it delivers: a FUTURERELEASE hold)."""
        return tuple(OutboundRecipient(r.address, notify=tuple(sorted(r.rcpt.notify or ())))
                     for r in self.recipients if r.accounts)

    def remote_recipients(self) -> tuple[OutboundRecipient, ...]:
        found: dict[str, OutboundRecipient] = {}
        for recipient in self.recipients:
            orcpt = recipient.rcpt.orcpt
            for address in recipient.remote:
                found.setdefault(address, OutboundRecipient(
                    address,
                    orcpt=f"{orcpt[0]};{orcpt[1]}" if orcpt else f"rfc822;{recipient.address}",
                    notify=tuple(sorted(recipient.rcpt.notify or ())),
                ))
        return tuple(found.values())


async def check_sender(directory: Directory, role: Role, mail: MailFrom, user: Account | None) -> None:
    """Raise ProtocolError with the reply if this MAIL FROM is not allowed."""
    if role.is_submission:
        if user is None:
            raise ProtocolError(replies.AUTH_REQUIRED, "submission without logging in")
        if mail.address is None or not await directory.may_use(user, mail.address):
            raise ProtocolError(replies.SENDER_NOT_OWNED, f"{user.address} may not use {mail.address or '<>'}")


async def resolve_recipient(
    directory: Directory, role: Role, rcpt: RcptTo, srs_original: Callable[[str], Awaitable[str]] | None = None
) -> Recipient:
    """Where this RCPT TO goes, or ProtocolError with the refusal.

    ``srs_original``: for an SRS address of ours (a bounce of mail we forwarded), the original sender it
    hides, or ProtocolError when forged or expired; the bounce is then relayed to that sender.
    """
    if "@" not in rcpt.address:  # the grammar lets only <Postmaster> through without a domain
        return await _host_postmaster(directory, rcpt)
    try:
        local, domain = split_address(rcpt.address)
    except AddressError:
        raise ProtocolError(replies.BAD_RECIPIENT_SYNTAX) from None
    is_local = await directory.is_local_domain(domain)
    if not is_local:
        if not role.is_submission:
            raise ProtocolError(replies.RELAY_DENIED, f"relay to {domain} refused: not a domain of ours")
        return Recipient(rcpt.address, rcpt, [], [rcpt.address])
    if srs_original is not None and is_srs(local + "@"):
        return Recipient(rcpt.address, rcpt, [], [await srs_original(rcpt.address)])
    if "%" in local or "!" in local:
        raise ProtocolError(replies.RELAY_DENIED, "relay by %-hack or bang path refused")
    resolution = await directory.resolve(rcpt.address)
    if not resolution:
        raise ProtocolError(replies.NO_SUCH_USER)
    return Recipient(rcpt.address, rcpt, resolution.accounts, resolution.remote)


async def _host_postmaster(directory: Directory, rcpt: RcptTo) -> Recipient:
    """RFC 5321 4.5.1: a server MUST accept <Postmaster> (any case, 4.1.1.3) without a domain."""
    address = await directory.host_postmaster()
    if address is not None and not await directory.is_local_domain(address.rpartition("@")[2]):
        return Recipient(address, rcpt, [], [address])  # the configured postmaster reads mail elsewhere
    resolution = await directory.resolve(address) if address is not None else None
    if address is None or not resolution:
        raise ProtocolError(replies.NO_SUCH_USER, "no postmaster: no domain served, or it reaches nobody")
    return Recipient(address, rcpt, resolution.accounts, resolution.remote)
