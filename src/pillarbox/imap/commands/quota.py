"""QUOTA (RFC 9208): GETQUOTA, GETQUOTAROOT, SETQUOTA, resources STORAGE and MESSAGE.

Quotas are per account (set by the administrator with ``pillarbox user quota``), so every mailbox of
a user has the one quota root "" (the empty name, as Dovecot names a user's root). STORAGE is
counted in units of 1024 octets (RFC 9208 5.1), rounded up. A resource without a limit is not
listed; an account without any limit has no quota root. Users cannot change their own quota:
SETQUOTA answers NO [NOPERM], and QUOTASET is not advertised (RFC 9208 4.1.3).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pillarbox.imap import response as r
from pillarbox.imap.commands.folders import folder
from pillarbox.imap.parser.commands import MailboxCommand, QuotaRoot, SetQuota

if TYPE_CHECKING:
    from pillarbox.imap.session import IMAPSession

ROOT = ""


async def _resources(session: IMAPSession) -> list[tuple[str, int, int]]:
    assert session.user is not None
    account = await session.store.get_account(session.user.address) or session.user  # limits may have changed
    used_bytes, used_messages = await session.store.account_usage(account.id)
    resources = []
    if account.quota_bytes is not None:
        resources.append(("STORAGE", -(-used_bytes // 1024), account.quota_bytes // 1024))
    if account.quota_messages is not None:
        resources.append(("MESSAGE", used_messages, account.quota_messages))
    return resources


async def getquota(session: IMAPSession, command: QuotaRoot) -> r.TaggedReply:
    resources = await _resources(session)
    if command.root != ROOT or not resources:
        return r.no(command.tag, r.NONEXISTENT, "No such quota root")
    session.send(r.quota_data(ROOT, resources))
    return r.ok(command.tag, "GETQUOTA completed")


async def getquotaroot(session: IMAPSession, command: MailboxCommand) -> r.TaggedReply:
    mailbox = await folder(session, command.mailbox)
    if mailbox is None:
        return r.no(command.tag, r.NONEXISTENT, "No such mailbox")
    resources = await _resources(session)
    session.send(r.quotaroot_data(mailbox.name, [ROOT] if resources else [], session.utf8_names))
    if resources:
        session.send(r.quota_data(ROOT, resources))
    return r.ok(command.tag, "GETQUOTAROOT completed")


async def setquota(session: IMAPSession, command: SetQuota) -> r.TaggedReply:
    return r.no(command.tag, r.NOPERM, "Quotas are set by the administrator")
