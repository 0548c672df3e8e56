"""NOTIFY (RFC 5465): events told between commands, for the selected mailbox and for others.

After NOTIFY SET the client listens all the time (3.1), so a task of the session waits for what it
asked about and writes it at once, holding the session's command lock so that nothing interleaves
with a command's responses:

- the selected mailbox (the SELECTED/SELECTED-DELAYED group, 6): EXISTS, EXPUNGE (under SELECTED; under
  SELECTED-DELAYED they wait for a command that may carry them, as without NOTIFY), flag FETCHes, and a
  FETCH of the asked fetch-atts for each new message (5.2);
- other mailboxes: one STATUS per mailbox per change (5.1-5.3): UIDNEXT MESSAGES for new or expunged
  messages, HIGHESTMODSEQ once CONDSTORE is on, UNSEEN when \\Seen changed (5.1 MAY), UIDVALIDITY when
  it changed;
- MailboxName and SubscriptionChange: a LIST for each mailbox created (its attributes), deleted
  (\\NonExistent) or renamed (OLDNAME), or (un)subscribed (\\Subscribed iff subscribed, 5.5);
- MailboxMetadataChange and ServerMetadataChange: METADATA with the names of the entries that changed.

Message events are woken by the store's change feed (the mailboxes' MODSEQs); mailbox names,
subscriptions and annotations change no MODSEQ, so a watch asking for them also looks every
``ACCOUNT_POLL`` seconds. What this session did itself is not told back (5 SHOULD): after a command
that changes names, subscriptions, annotations or another mailbox's messages, the watch takes in the
new state without a word. The rights checks of 3.1 are those of a user's own mailboxes: all of them.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pillarbox.imap import response as r
from pillarbox.imap.commands.folders import DELIMITER, attributes, status_items
from pillarbox.imap.commands.mailbox_sets import matches
from pillarbox.imap.fetch import FetchOptions, fetch_responses
from pillarbox.imap.parser.commands import EventGroup
from pillarbox.imap.parser.mailbox_filter import SELECTED_KINDS
from pillarbox.store.records import Mailbox

if TYPE_CHECKING:
    from pillarbox.imap.session import IMAPSession

ACCOUNT_POLL = 5.0
SUPPORTED = ("MessageNew", "MessageExpunge", "FlagChange", "MailboxName", "SubscriptionChange",
             "MailboxMetadataChange", "ServerMetadataChange")
ACCOUNT_EVENTS = frozenset({"MAILBOXNAME", "SUBSCRIPTIONCHANGE", "MAILBOXMETADATACHANGE", "SERVERMETADATACHANGE"})
MESSAGE_EVENTS = frozenset({"MESSAGENEW", "MESSAGEEXPUNGE", "FLAGCHANGE"})


@dataclass
class Watch:
    """One session's NOTIFY SET and what it last told."""

    groups: tuple[EventGroup, ...]
    told: dict[int, Mailbox] = field(default_factory=dict)
    """Other mailboxes with message events, as last told."""
    names: dict[int, tuple[str, bool]] = field(default_factory=dict)
    """Every mailbox of the user: (name, subscribed), for MailboxName and SubscriptionChange."""
    metadata: dict[int, dict[str, bytes]] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None
    looked: float = 0.0

    @property
    def selected_group(self) -> EventGroup | None:
        return next((g for g in self.groups if g.filter.kind in SELECTED_KINDS), None)

    def events_for(self, mailbox: Mailbox) -> frozenset[str]:
        """The events asked about ``mailbox`` by the groups other than SELECTED."""
        return frozenset(event for group in self.groups if group.filter.kind not in SELECTED_KINDS
                         and matches(group.filter, mailbox) for event in group.events)

    @property
    def account_events(self) -> frozenset[str]:
        return frozenset(e for group in self.groups for e in group.events if e in ACCOUNT_EVENTS)


def unsupported(groups: tuple[EventGroup, ...]) -> list[str]:
    known = {name.upper() for name in SUPPORTED}
    return [event for group in groups for event in group.events if event not in known]


async def start(session: IMAPSession, groups: tuple[EventGroup, ...], status: bool) -> None:
    """NOTIFY SET: replace the watch, STATUS for the watched mailboxes when asked (3.1), then listen."""
    stop(session)
    watch = session.notify = Watch(groups)
    await _look(session, watch, tell=False)
    if status:
        for mailbox in watch.told.values():
            items = _opening_items(watch.events_for(mailbox))
            values = await status_items(mailbox, items, session, asked=False)
            session.send(r.status_data(mailbox.name, values, session.utf8_names))
    watch.task = asyncio.get_running_loop().create_task(_listen(session, watch))


def stop(session: IMAPSession) -> None:
    """NOTIFY NONE, UNAUTHENTICATE, the end of the connection."""
    watch, session.notify = session.notify, None
    if watch is not None and watch.task is not None:
        watch.task.cancel()


OWN_CHANGES = frozenset({"CREATE", "DELETE", "RENAME", "SUBSCRIBE", "UNSUBSCRIBE", "SETMETADATA", "APPEND",
                         "COPY", "MOVE", "REPLACE"})
"""Commands whose changes the watch takes in without telling them back (5 SHOULD)."""
NEW_WATCH = OWN_CHANGES | {"SELECT", "EXAMINE", "CLOSE", "UNSELECT"}
"""Commands after which the watch waits on other mailboxes than before."""


async def after_command(session: IMAPSession, name: str) -> None:
    """Under the session's command lock, after ``name`` ran: note its own changes, wait anew."""
    watch = session.notify
    if watch is None or name not in NEW_WATCH:
        return
    if name in OWN_CHANGES:
        await _look(session, watch, tell=False)
    if watch.task is not None:
        watch.task.cancel()
    watch.task = asyncio.get_running_loop().create_task(_listen(session, watch))


async def _listen(session: IMAPSession, watch: Watch) -> None:
    with contextlib.suppress(OSError):  # the connection went away: the session ends on its own
        while True:
            known = {mailbox.id: mailbox.highestmodseq for mailbox in watch.told.values()}
            view = session.selected
            if view is not None and watch.selected_group is not None:
                known[view.id] = view.known_modseq
            timeout = ACCOUNT_POLL if watch.account_events or not known else None
            await session.store.changes.wait(known, timeout=timeout)
            async with session.busy:
                if session.notify is not watch or watch.task is not asyncio.current_task():
                    return  # replaced or stopped meanwhile (Python 3.11's wait_for may swallow a cancel)
                await _tell(session, watch)
                await session.flush()


async def _tell(session: IMAPSession, watch: Watch) -> None:
    group, view = watch.selected_group, session.selected
    if group is not None and view is not None and group.events:
        before = view.uids[-1] if view.uids else 0
        await session.report_changes(allow_expunge=group.filter.kind == "SELECTED")
        if group.fetch:
            await _fetch_new(session, group, before)
    await _look(session, watch, tell=True)


async def _fetch_new(session: IMAPSession, group: EventGroup, after_uid: int) -> None:
    """5.2: the asked fetch-atts of each message new since ``after_uid``, after its EXISTS."""
    view = session.selected
    assert view is not None
    new = list(view.uids[bisect.bisect_right(view.uids, after_uid):])
    if new:
        options = FetchOptions(uid=True, utf8=session.utf8, condstore=False)
        fetched = await fetch_responses(session.store, view, new, group.fetch, options,
                                        session.services.structures, set())
        for line in fetched.lines:
            session.send(line)


async def _look(session: IMAPSession, watch: Watch, tell: bool) -> None:
    """Read the user's mailboxes once; tell (or only note) what changed in those watched."""
    assert session.user is not None
    mailboxes = await session.store.list_mailboxes(session.user.id)
    selected = session.selected.id if session.selected is not None else None
    watched = {m.id: m for m in mailboxes if m.id != selected and watch.events_for(m) & MESSAGE_EVENTS}
    for mailbox_id, mailbox in watched.items():
        before = watch.told.get(mailbox_id)
        items = _changed_items(before, mailbox, watch.events_for(mailbox), session.condstore) if before else ()
        if tell and items:
            values = await status_items(mailbox, items, session, asked=False)
            session.send(r.status_data(mailbox.name, values, session.utf8_names))
    watch.told = watched
    events = watch.account_events
    now = time.monotonic()
    if events and (not tell or now - watch.looked >= ACCOUNT_POLL):
        watch.looked = now
        _names(session, watch, mailboxes, tell)
        if events & {"MAILBOXMETADATACHANGE", "SERVERMETADATACHANGE"}:
            await _metadata(session, watch, mailboxes, tell)


def _opening_items(events: frozenset[str]) -> tuple[str, ...]:
    """3.1: what the STATUS indicator's responses must hold for these events."""
    items = ("UIDVALIDITY", "UIDNEXT", "MESSAGES") if events & {"MESSAGENEW", "MESSAGEEXPUNGE"} else ()
    return items + (("HIGHESTMODSEQ",) if "FLAGCHANGE" in events else ())


def _changed_items(before: Mailbox, after: Mailbox, events: frozenset[str], condstore: bool) -> tuple[str, ...]:
    """The STATUS items that tell the change from ``before`` to ``after`` (5.1-5.3), none if none."""
    items: list[str] = []
    counts_moved = (before.uidnext, before.messages) != (after.uidnext, after.messages)
    if "MESSAGENEW" in events and (counts_moved or before.uidvalidity != after.uidvalidity):
        items += ["UIDNEXT", "MESSAGES"] + (["HIGHESTMODSEQ"] if condstore else [])
    if "FLAGCHANGE" in events and before.highestmodseq != after.highestmodseq and not counts_moved:
        items += (["HIGHESTMODSEQ", "UIDVALIDITY"] if condstore else [])
        items += ["UNSEEN"] if before.unseen != after.unseen else []
    if before.uidvalidity != after.uidvalidity:
        items.append("UIDVALIDITY")
    return tuple(dict.fromkeys(items))


def _names(session: IMAPSession, watch: Watch, mailboxes: list[Mailbox], tell: bool) -> None:
    """MailboxName (5.4) and SubscriptionChange (5.5): LIST responses for what changed, by mailbox id."""
    now = {m.id: (m.name, m.subscribed) for m in mailboxes}
    if tell:
        by_id = {m.id: m for m in mailboxes}
        parents = {name[:i] for name, _ in now.values() for i, c in enumerate(name) if c == DELIMITER}
        for mailbox_id, (name, subscribed) in now.items():
            mailbox = by_id[mailbox_id]
            events = watch.events_for(mailbox)
            old = watch.names.get(mailbox_id)
            renamed_or_new = old is None or old[0] != name
            if ("MAILBOXNAME" in events and renamed_or_new) or (
                    "SUBSCRIPTIONCHANGE" in events and old is not None and old[1] != subscribed):
                extra = ("\\Subscribed",) if subscribed else ()
                oldname = old[0] if old is not None and old[0] != name else None
                session.send(r.list_data(name, attributes(mailbox, parents, extra), utf8=session.utf8_names,
                                         oldname=oldname))
        for mailbox_id, (name, _) in watch.names.items():
            if mailbox_id not in now and any("MAILBOXNAME" in g.events for g in watch.groups):
                session.send(r.list_data(name, ["\\NonExistent"], utf8=session.utf8_names))
    watch.names = now


async def _metadata(session: IMAPSession, watch: Watch, mailboxes: list[Mailbox], tell: bool) -> None:
    """MailboxMetadataChange (5.6), ServerMetadataChange (5.7): the names of the entries that changed."""
    assert session.user is not None
    now = await session.store.account_metadata(session.user.id)
    if tell:
        names = {m.id: m for m in mailboxes}
        for mailbox_id in sorted(set(now) | set(watch.metadata)):
            before, after = watch.metadata.get(mailbox_id, {}), now.get(mailbox_id, {})
            changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
            mailbox = names.get(mailbox_id)
            wanted = ("SERVERMETADATACHANGE" in watch.account_events if mailbox_id == 0 else
                      mailbox is not None and "MAILBOXMETADATACHANGE" in watch.events_for(mailbox))
            if changed and wanted:
                name = "" if mailbox is None else mailbox.name
                session.send(r.untagged(b"METADATA " + r.mailbox(name, session.utf8_names) + b" "
                                        + b" ".join(r.astring(entry) for entry in changed)))
    watch.metadata = now
