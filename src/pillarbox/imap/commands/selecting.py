"""SELECT and EXAMINE (RFC 9051 6.3.2, 6.3.3) with CONDSTORE and QRESYNC (RFC 7162 3.1.8, 3.2.5).

Quick resynchronisation: a client that was offline sends the UIDVALIDITY and HIGHESTMODSEQ it last
saw (and optionally the UIDs it knows). The store's change log answers it directly: rows of
``mailbox_messages`` with a MODSEQ above the client's are the flag changes and new messages;
tombstones in ``expunged`` above it are the VANISHED (EARLIER) set. The difference is sent once,
right after the usual SELECT responses, so the client never re-fetches the whole mailbox.

The horizon: tombstones are kept forever (one small row per expunged UID), so any MODSEQ a client
ever saw can be answered exactly and ``seq-match-data`` (3.2.5.2, a hint for servers that forget)
is accepted and ignored. Should pruning ever be added, a client whose MODSEQ predates the horizon
must get every UID of its known-uids that no longer exists, not just the remembered tombstones.
"""

from __future__ import annotations

import bisect
import dataclasses
from typing import TYPE_CHECKING

from pillarbox.errors import NotFound
from pillarbox.imap import recent
from pillarbox.imap import response as r
from pillarbox.imap.commands.access import require
from pillarbox.imap.commands.folders import DELIMITER, attributes, mailbox_id
from pillarbox.imap.fetch import flag_list
from pillarbox.imap.parser.commands import QResync, Select
from pillarbox.imap.rights import WRITE_RIGHTS
from pillarbox.imap.selected import SelectedMailbox

if TYPE_CHECKING:
    from pillarbox.imap.session import IMAPSession


async def select(session: IMAPSession, command: Select) -> r.TaggedReply:
    if command.qresync is not None and not session.qresync:
        return r.bad(command.tag, "QRESYNC is not enabled")  # RFC 7162 3.2.5
    if session.selected is not None:
        session.send(r.UntaggedReply("OK", "Previous mailbox closed", r.CLOSED).to_bytes())  # RFC 9051 7.1
    session.select(None)  # RFC 9051 6.3.2: a failed SELECT leaves no mailbox selected
    if command.condstore:
        session.enabled.add("CONDSTORE")
    target = await require(session, command.tag, command.mailbox, "r")  # RFC 4314 4
    if isinstance(target, r.TaggedReply):
        return target
    try:
        columns = await session.services.snapshots.current(session.store, target.mailbox.id)
    except NotFound:  # deleted since it was looked up
        return r.no(command.tag, r.NONEXISTENT, "No such mailbox")
    read_only = command.readonly or not WRITE_RIGHTS & set(target.rights)  # RFC 4314 5.2
    view = SelectedMailbox(columns, read_only=read_only)
    session.select(view, target.name, target.rights)
    if not session.rev2:
        await recent.take(session.store, view, told_after=0)
    _send_opening(session, view, await _has_children(session, target.name) if session.rev2 else False)
    if command.qresync is not None and command.qresync.uidvalidity == view.mailbox.uidvalidity:
        await _resync(session, view, command.qresync)
    return r.ok(command.tag, f"{command.name} completed", r.READ_ONLY if read_only else r.READ_WRITE)


async def _has_children(session: IMAPSession, name: str) -> bool:
    assert session.user is not None
    return any(m.name.startswith(name + DELIMITER) for m in await session.store.list_mailboxes(session.user.id))


def _send_opening(session: IMAPSession, view: SelectedMailbox, has_children: bool) -> None:
    mailbox = view.mailbox
    untagged = r.UntaggedReply
    session.send_flags(view, opening=True)
    session.send_exists(view)
    if not session.rev2:
        unseen = view.having(view.uids, "\\Seen", present=False)
        if unseen:
            session.send(untagged("OK", "First unseen", r.code_unseen(view.seq_of(unseen[0]) or 0)).to_bytes())
    session.send(untagged("OK", "UIDs valid", r.code_uidvalidity(mailbox.uidvalidity)).to_bytes())
    session.send(untagged("OK", "Predicted next UID", r.code_uidnext(mailbox.uidnext)).to_bytes())
    # RFC 7162 3.1.2.1: a server with persistent MODSEQs sends HIGHESTMODSEQ on every SELECT
    session.send(untagged("OK", "Highest", r.code_highestmodseq(view.known_modseq)).to_bytes())
    session.send(untagged("OK", "Ok", r.code_mailboxid(mailbox_id(mailbox))).to_bytes())  # RFC 8474 4.2
    if session.rev2:
        # RFC 9051 6.3.2: the LIST response's attributes "MUST be accurate"
        shown = dataclasses.replace(mailbox, name=session.selected_name)
        children = {shown.name} if has_children else set()
        session.send(r.list_data(shown.name, attributes(shown, children), utf8=session.utf8_names))


async def _resync(session: IMAPSession, view: SelectedMailbox, qresync: QResync) -> None:
    """RFC 7162 3.2.5.1: what is semantically ``UID FETCH known-uids (FLAGS) (CHANGEDSINCE m VANISHED)``."""
    spans = qresync.known_uids.resolve(view.mailbox.uidnext - 1) if qresync.known_uids else None

    def wanted(uid: int) -> bool:
        return spans is None or in_spans(spans, uid)

    changes = await session.store.changes_since(view.id, qresync.modseq)
    vanished = [uid for uid in changes.expunged if wanted(uid) and view.seq_of(uid) is None]
    if vanished:
        session.send(r.vanished_data(vanished, earlier=True))
    for entry in changes.changed:
        seq = view.seq_of(entry.uid)
        if seq is None or not wanted(entry.uid):
            continue
        current = view.entry(entry.uid)
        items = [
            ("UID", b"%d" % current.uid),
            ("FLAGS", flag_list(current.flags, current.uid in view.recent)),
            ("MODSEQ", b"(%d)" % current.modseq),
        ]
        session.send(r.fetch_data(seq, items))


def in_spans(spans: list[tuple[int, int]], number: int) -> bool:
    """``number`` in sorted, disjoint (low, high) spans, by bisection (a resync may test 100,000 UIDs)."""
    index = bisect.bisect_right(spans, (number, 2**63)) - 1
    return index >= 0 and spans[index][0] <= number <= spans[index][1]
