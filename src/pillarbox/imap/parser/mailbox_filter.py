"""Mailbox specifiers shared by NOTIFY (RFC 5465 6, 8) and MULTISEARCH (RFC 7377 2.2, 4).

``filter-mailboxes = filter-mailboxes-selected / filter-mailboxes-other``;
``filter-mailboxes-selected = "selected" / "selected-delayed"``;
``filter-mailboxes-other = "inboxes" / "personal" / "subscribed" / ("subtree" SP one-or-more-mailbox)
/ ("mailboxes" SP one-or-more-mailbox)``, and RFC 7377 adds ``"subtree-one" SP one-or-more-mailbox``;
``one-or-more-mailbox = mailbox / many-mailboxes``, ``many-mailboxes = "(" mailbox *(SP mailbox) ")"``.
"""

from __future__ import annotations

from dataclasses import dataclass

from pillarbox.imap.parser.primitives import ParseError, Reader

WITH_NAMES = frozenset({"SUBTREE", "SUBTREE-ONE", "MAILBOXES"})
SELECTED_KINDS = frozenset({"SELECTED", "SELECTED-DELAYED"})
MAX_NAMED = 1000  # mailboxes named in one specifier: more is a command no client needs


@dataclass(frozen=True)
class MailboxFilter:
    """One specifier: ``kind`` upper-cased, ``mailboxes`` the names a SUBTREE/MAILBOXES kind names."""

    kind: str
    mailboxes: tuple[str, ...] = ()


def parse_filter(reader: Reader, kinds: frozenset[str]) -> MailboxFilter:
    """One ``filter-mailboxes`` whose kind is one of ``kinds`` (the command's own list)."""
    kind = reader.keyword()
    if kind not in kinds:
        raise ParseError(f"Invalid mailbox specifier {kind}")
    if kind not in WITH_NAMES:
        return MailboxFilter(kind)
    reader.sp()
    if not reader.take(b"("):
        return MailboxFilter(kind, (reader.mailbox(),))
    names = [reader.mailbox()]
    while reader.take(b" "):
        if len(names) >= MAX_NAMED:
            raise ParseError("Too many mailboxes", code="LIMIT", status="NO")
        names.append(reader.mailbox())
    reader.expect(b")")
    return MailboxFilter(kind, tuple(dict.fromkeys(names)))
