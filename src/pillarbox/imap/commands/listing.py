"""LIST and LSUB (RFC 9051 6.3.9, RFC 3501 6.3.9) with LIST-EXTENDED (RFC 5258), SPECIAL-USE (RFC 6154)
LIST-STATUS (RFC 5819) and LIST-METADATA (RFC 9590).

A LIST answers with names, and not every name is a mailbox: a subscription outlives its mailbox, and a
level of the hierarchy ("a/b" of "a/b/c") may be no mailbox at all. So the candidates are the
mailboxes, the subscribed names (when subscriptions are asked about) and every level above a name
that meets the selection criteria. A candidate the patterns match is returned

- when it meets the criteria itself (a mailbox; a subscribed name for LSUB and SUBSCRIBED; a
  special-use mailbox for SPECIAL-USE), with CHILDINFO when RECURSIVEMATCH finds names below it that
  meet them too (RFC 5258 3.5);
- else when a name below it meets the criteria but the patterns do not reach it ("%"), so that the
  client can find it: with CHILDINFO under RECURSIVEMATCH (\\NonExistent when no mailbox, 5258 example
  8), \\Noselect in LSUB ("it MUST be flagged with the \\Noselect attribute", RFC 3501 6.3.9), and
  \\NonExistent \\HasChildren (\\Noselect before LIST-EXTENDED and IMAP4rev2) for a level of a plain LIST
  (RFC 9051 6.3.9 example 10). LIST (SUBSCRIBED) without RECURSIVEMATCH returns exactly the
  subscribed names (5258 3.1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pillarbox.imap import response as r
from pillarbox.imap.commands.access import listed_shared
from pillarbox.imap.commands.folders import DELIMITER, attributes, status_items
from pillarbox.imap.commands.metadata import longentries, values_for
from pillarbox.imap.list_pattern import ListPattern
from pillarbox.imap.parser.commands import ListCommand
from pillarbox.imap.rights import RIGHTS, shown
from pillarbox.store.records import Mailbox

if TYPE_CHECKING:
    from pillarbox.imap.session import IMAPSession


def list_pattern(reference: str, pattern: str) -> ListPattern:
    """"*" matches anything, "%" anything but the delimiter; the reference goes in front (6.3.9).
    Not a regex: ".*a.*a.*b" backtracks exponentially (see ``list_pattern``)."""
    full = pattern if pattern.startswith(DELIMITER) or not reference else reference + pattern
    if full[:5].upper() == "INBOX" and full[5:6] in ("", DELIMITER, "*", "%"):
        full = "INBOX" + full[5:]  # stored names spell INBOX canonically
    return ListPattern(full, DELIMITER)


def _levels(name: str) -> list[str]:
    """The names above ``name`` in the hierarchy: "a", "a/b" for "a/b/c"."""
    return [name[:index] for index, char in enumerate(name) if char == DELIMITER]


@dataclass
class _Names:
    """Every name a LIST may return, and which of them meet the selection criteria."""

    mailboxes: dict[str, Mailbox]
    subscribed: set[str]
    meeting: set[str]
    parents: set[str] = field(init=False)
    """Names with a mailbox below them (\\HasChildren)."""
    meeting_below: dict[str, list[str]] = field(init=False, default_factory=dict)
    rights: dict[str, str] = field(init=False, default_factory=dict)
    """The user's rights on the shared mailboxes among them (the others are its own: all)."""

    def __post_init__(self) -> None:
        self.parents = {level for name in self.mailboxes for level in _levels(name)}
        for name in self.meeting:
            for level in _levels(name):
                self.meeting_below.setdefault(level, []).append(name)

    def candidates(self) -> list[str]:
        return sorted(set(self.mailboxes) | self.meeting | set(self.meeting_below))


async def list_mailboxes(session: IMAPSession, command: ListCommand) -> r.TaggedReply:
    assert session.user is not None
    if command.patterns == ("",) and not command.extended:
        session.send(r.list_data("", ["\\Noselect"], command=command.name))  # RFC 9051 6.3.9: the delimiter
        return r.ok(command.tag, f"{command.name} completed")
    mailboxes = {m.name: m for m in await session.store.list_mailboxes(session.user.id)}
    by_subscription = command.name == "LSUB" or "SUBSCRIBED" in command.selection
    subscribed = {name for name, m in mailboxes.items() if m.subscribed}
    # RFC 9051 6.3.7: a subscription outlives its mailbox; a shared mailbox's is one of those names
    others = set(await session.store.subscribed_without_mailbox(session.user.id))
    shared = await listed_shared(session, others)  # RFC 4314 4: those the user has "l" on
    mailboxes.update((name, mailbox) for name, (mailbox, _) in shared.items())
    subscribed.update(name for name, (mailbox, _) in shared.items() if mailbox.subscribed)
    if by_subscription:
        subscribed.update(others)
    names = _Names(mailboxes, subscribed, _meeting(command, mailboxes, subscribed, by_subscription))
    names.rights = {name: rights for name, (_, rights) in shared.items()}
    patterns = [list_pattern(command.reference, pattern) for pattern in command.patterns]

    def listed(name: str) -> bool:
        return any(pattern.matches(name) for pattern in patterns)

    longest = 0
    for name in names.candidates():
        if listed(name):
            longest = max(longest, await _respond(session, command, names, name, listed))
    return r.ok(command.tag, f"{command.name} completed", longentries(longest))


def _meeting(
    command: ListCommand, mailboxes: dict[str, Mailbox], subscribed: set[str], by_subscription: bool
) -> set[str]:
    """The names that meet the selection criteria (RFC 5258 3: every option at once)."""
    found = set(subscribed) if by_subscription else set(mailboxes)
    if "SPECIAL-USE" in command.selection:  # RFC 6154 3
        found = {name for name in found if name in mailboxes and mailboxes[name].special_use}
    return found


async def _respond(
    session: IMAPSession, command: ListCommand, names: _Names, name: str, listed: Callable[[str], bool]
) -> int:
    """The LIST (and STATUS, METADATA) responses for ``name``; the size of a METADATA value MAXSIZE left out."""
    mailbox = names.mailboxes.get(name)
    below = names.meeting_below.get(name, [])
    hidden_below = any(not listed(other) for other in below)
    recursive = "RECURSIVEMATCH" in command.selection
    criteria = tuple(o for o in command.selection if o not in ("RECURSIVEMATCH", "REMOTE"))
    if name in names.meeting:
        flags = _attributes(session, command, names, name)
        childinfo = criteria if recursive and below else ()
    elif hidden_below and (recursive or command.name == "LSUB" or not criteria):
        flags, childinfo = _way_down(session, command, names, name), criteria if recursive else ()
    else:
        return 0
    session.send(r.list_data(name, flags, utf8=session.utf8_names, childinfo=childinfo, command=command.name))
    if mailbox is None or name not in names.meeting:
        return 0
    if command.status_items:
        items = await status_items(mailbox, command.status_items, session)
        session.send(r.status_data(name, items, session.utf8_names))
    if "MYRIGHTS" in command.returns:  # RFC 8440: after its LIST response
        rights = names.rights.get(name, RIGHTS)
        session.send(r.myrights_data(name, shown(rights), session.utf8_names))
    if not command.metadata:
        return 0
    values, longest = await values_for(session, mailbox, command.metadata, "0", command.metadata_maxsize)
    session.send(r.metadata_data(name, values, session.utf8_names))  # RFC 9590: after its LIST response
    return longest


def _attributes(session: IMAPSession, command: ListCommand, names: _Names, name: str) -> list[str]:
    """A name that meets the criteria: a mailbox's own attributes, or a subscription's without one."""
    mailbox = names.mailboxes.get(name)
    if mailbox is None:
        return ["\\Noselect"] if command.name == "LSUB" else ["\\Subscribed", "\\NonExistent"]
    tells_subscribed = command.name == "LSUB" or "SUBSCRIBED" in command.selection + command.returns
    return attributes(mailbox, names.parents, ("\\Subscribed",) if tells_subscribed and mailbox.subscribed else ())


def _way_down(session: IMAPSession, command: ListCommand, names: _Names, name: str) -> list[str]:
    """A name returned for what is below it (module doc)."""
    mailbox = names.mailboxes.get(name)
    if command.name == "LSUB":
        return ["\\Noselect"]
    if "RECURSIVEMATCH" in command.selection:
        if mailbox is None:
            return ["\\NonExistent"]
        extra = ("\\Subscribed",) if "SUBSCRIBED" in command.returns and mailbox.subscribed else ()
        return attributes(mailbox, names.parents, extra)
    return ["\\NonExistent" if command.extended or session.rev2 else "\\Noselect", "\\HasChildren"]
