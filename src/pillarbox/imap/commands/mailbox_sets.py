"""The mailboxes a mailbox specifier names (RFC 5465 6, RFC 7377 2.2), for NOTIFY and MULTISEARCH.

``personal``: every mailbox of the user; ``inboxes``: those mail is delivered to, INBOX here (Sieve's
fileinto targets are not known in advance); ``subscribed``: the subscribed ones; ``subtree X``: X and
every mailbox below it; ``subtree-one X``: X and its children; ``mailboxes X``: X. A name that is not a
mailbox is left out. ``selected`` is the session's business, not resolved here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pillarbox.imap.commands.folders import DELIMITER
from pillarbox.imap.parser.mailbox_filter import MailboxFilter
from pillarbox.store.records import Mailbox

if TYPE_CHECKING:
    from pillarbox.imap.session import IMAPSession


def matches(spec: MailboxFilter, mailbox: Mailbox) -> bool:
    """Whether ``spec`` (other than selected) names ``mailbox``."""
    name = mailbox.name
    if spec.kind == "PERSONAL":
        return True
    if spec.kind == "INBOXES":
        return name == "INBOX"
    if spec.kind == "SUBSCRIBED":
        return mailbox.subscribed
    if spec.kind == "MAILBOXES":
        return name in spec.mailboxes
    if spec.kind == "SUBTREE":
        return any(name == top or name.startswith(top + DELIMITER) for top in spec.mailboxes)
    if spec.kind == "SUBTREE-ONE":
        return any(name == top or name.rpartition(DELIMITER)[0] == top for top in spec.mailboxes)
    return False


async def named_mailboxes(session: IMAPSession, specs: tuple[MailboxFilter, ...]) -> list[Mailbox]:
    """The user's mailboxes any of ``specs`` names, each once, in name order."""
    assert session.user is not None
    others = [spec for spec in specs if spec.kind not in ("SELECTED", "SELECTED-DELAYED")]
    if not others:
        return []
    mailboxes = await session.store.list_mailboxes(session.user.id)
    return sorted((m for m in mailboxes if any(matches(spec, m) for spec in others)), key=lambda m: m.name)
