"""Selected-state commands (RFC 9051 6.4): FETCH, STORE, SEARCH, COPY, MOVE (6851), EXPUNGE,
UID EXPUNGE (4315), CLOSE, UNSELECT (3691), CHECK; with CONDSTORE/QRESYNC (RFC 7162): FETCH
CHANGEDSINCE and VANISHED, STORE UNCHANGEDSINCE and [MODIFIED], SEARCH MODSEQ; and "$" (RFC 5182)
wherever a sequence set is allowed.

Sequence sets resolve against the session's view (message numbers as this client knows them);
UID sets against its UIDs, where "*" is the highest UID in the view (6.4.8). A sequence number past
the view is a client error (BAD); a UID that does not exist is silently skipped.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING

from pillarbox.errors import ProtocolError, QuotaExceeded
from pillarbox.imap import response as r
from pillarbox.imap.commands.folders import folder
from pillarbox.imap.fetch import FetchOptions, fetch_responses, flag_list, sets_seen
from pillarbox.imap.parser.commands import Command, Copy, Expunge, Fetch, Search, Store
from pillarbox.imap.parser.search_key import ModSeqKey
from pillarbox.imap.parser.sequence_set import SequenceSet
from pillarbox.imap.search import search as run_search
from pillarbox.imap.search import walk
from pillarbox.imap.selected import SelectedMailbox

if TYPE_CHECKING:
    from pillarbox.imap.session import IMAPSession

_MODES = {"+": "add", "-": "remove", "": "replace"}
EXPUNGED = "Some of the messages were expunged"


def view_of(session: IMAPSession) -> SelectedMailbox:
    assert session.selected is not None
    return session.selected


def resolve(session: IMAPSession, tag: str, numbers: SequenceSet, uid: bool) -> list[int]:
    """The UIDs (ascending) a sequence set names in the session's view."""
    view = view_of(session)
    if numbers.saved:  # RFC 5182 2.1: "$" is the saved result (kept as UIDs), maybe among ranges
        saved = set(session.saved_search)
        rest = resolve(session, tag, SequenceSet(numbers.ranges), uid) if numbers.ranges else []
        return sorted(saved.intersection(view.uids).union(rest))
    if uid:
        largest = view.uids[-1] if view.uids else 0
        found: list[int] = []
        for low, high in numbers.resolve(largest):
            start = bisect.bisect_left(view.uids, low)
            end = bisect.bisect_right(view.uids, high)
            found.extend(view.uids[start:end])
        return found
    if numbers.highest_explicit() > view.exists:
        raise ProtocolError(r.bad(tag, "Invalid message sequence number"))
    return [view.uid_at(seq) for seq in numbers.iterate(view.exists)]


async def fetch(session: IMAPSession, command: Fetch) -> r.TaggedReply:
    view = view_of(session)
    uids = existing(session, resolve(session, command.tag, command.sequence_set, command.uid), command.uid)
    expunged = any(u in view.pending_expunges for u in uids)
    since = command.modifiers.changedsince
    if command.modifiers.vanished and not session.qresync:
        return r.bad(command.tag, "VANISHED needs ENABLE QRESYNC")  # RFC 7162 3.2.6
    if command.modifiers.vanished and since is None:
        return r.bad(command.tag, "VANISHED needs CHANGEDSINCE")
    if since is not None or any(item.name == "MODSEQ" for item in command.items):
        session.enabled.add("CONDSTORE")  # RFC 7162 3.1: CONDSTORE-enabling
    if since is not None:
        if command.modifiers.vanished:
            await _send_vanished(session, command.sequence_set, since)
        uids = [u for u in uids if view.entry(u).modseq > since]  # RFC 7162 3.1.4.1
    changed: set[int] = set()
    if sets_seen(command.items) and not view.read_only:
        unseen = view.having((u for u in uids if u not in view.pending_expunges), "\\Seen", present=False)
        if unseen:
            result = await session.store.store_flags(view.id, unseen, "add", ["\\Seen"])
            for change in result.changed:
                view.remember(change.uid, change.flags, change.modseq)
                changed.add(change.uid)
    # RFC 7162 3.2.4: FETCH responses that set \Seen carry UID and MODSEQ once CONDSTORE is on
    implicit = bool(changed) and session.condstore
    options = FetchOptions(uid=command.uid or implicit, utf8=session.utf8, condstore=since is not None or implicit)
    structures = session.services.structures
    fetched = await fetch_responses(session.store, view, uids, command.items, options, structures, changed)
    for line in fetched.lines:
        session.send(line)
    if fetched.gone and not command.uid:  # RFC 2180 4.1.2; a UID that is gone does not exist (6.4.8)
        return r.no(command.tag, r.EXPUNGEISSUED, EXPUNGED)
    if expunged:
        return r.ok(command.tag, EXPUNGED, r.EXPUNGEISSUED)  # served all the same (RFC 2180 4.1.1)
    return r.ok(command.tag, f"{'UID ' if command.uid else ''}FETCH completed")


def existing(session: IMAPSession, uids: list[int], uid: bool) -> list[int]:
    """``uids`` without those known to be expunged when the command names UIDs: they no longer exist
    (RFC 9051 6.4.8), and the EXPUNGE may follow this command. Sequence numbers still name them."""
    pending = view_of(session).pending_expunges
    return [u for u in uids if u not in pending] if uid and pending else uids


async def expunged_since_told(session: IMAPSession, uids: list[int]) -> set[int]:
    """Those of ``uids`` another session expunged and this one has not read of yet (RFC 2180 4)."""
    view = view_of(session)
    changes = await session.store.changes_since(view.id, view.known_modseq)
    return set(changes.expunged).intersection(uids) | view.pending_expunges.intersection(uids)


async def _send_vanished(session: IMAPSession, uids: SequenceSet, since: int) -> None:
    """RFC 7162 3.2.6: VANISHED (EARLIER) with the UIDs of ``uids`` expunged after ``since``."""
    view = view_of(session)
    changes = await session.store.changes_since(view.id, since)
    largest = view.mailbox.uidnext - 1
    spans = uids.with_saved(session.saved_search).resolve(largest) if uids.saved else uids.resolve(largest)
    gone = [u for u in changes.expunged if any(low <= u <= high for low, high in spans)]
    if gone:
        session.send(r.vanished_data(gone, earlier=True))


async def store(session: IMAPSession, command: Store) -> r.TaggedReply:
    """RFC 9051 6.4.6; messages another session expunged are left out (RFC 2180 4.2): .SILENT ends
    OK (4.2.1), otherwise NO [EXPUNGEISSUED] after the FETCH responses of the others (4.2.2, 4.2.3)."""
    view = view_of(session)
    if view.read_only:
        return r.no(command.tag, r.READ_ONLY, "Mailbox is read-only")
    requested = existing(session, resolve(session, command.tag, command.sequence_set, command.uid), command.uid)
    uids = [u for u in requested if u not in view.pending_expunges]
    if command.unchangedsince is not None:
        session.enabled.add("CONDSTORE")
    result = await session.store.store_flags(view.id, uids, _MODES[command.mode], command.flags, command.unchangedsince)
    changed = {change.uid for change in result.changed}
    for change in result.changed:
        view.remember(change.uid, change.flags, change.modseq)
    unchanged = [u for u in uids if u not in changed and u not in result.modified]
    gone = await expunged_since_told(session, unchanged) if unchanged else set()
    gone.update(view.pending_expunges.intersection(requested))
    if view.learn_keywords(change.flags for change in result.changed):
        session.send_flags(view)
    for uid in uids:
        if uid not in result.modified and uid not in gone:
            _report_stored(session, command, uid, changed)
    # RFC 7162 3.1.3: MODIFIED holds message numbers for STORE, UIDs for UID STORE
    modified = sorted(result.modified) if command.uid else [seq for seq, _ in view.numbered(sorted(result.modified))]
    code = r.code_modified(modified) if modified else None
    if gone and not command.uid:  # [MODIFIED] stays the code to act on (RFC 7162 3.1.3 example 11)
        code = code or r.EXPUNGEISSUED
        return r.ok(command.tag, EXPUNGED, code) if command.silent else r.no(command.tag, code, EXPUNGED)
    return r.ok(command.tag, f"{'UID ' if command.uid else ''}STORE completed", code)


def _report_stored(session: IMAPSession, command: Store, uid: int, changed: set[int]) -> None:
    """The FETCH response for one stored message (RFC 9051 6.4.6, RFC 7162 3.1.3 and 3.2.4)."""
    view = view_of(session)
    seq = view.seq_of(uid)
    if seq is None:
        return
    if command.silent and not (session.condstore and uid in changed):
        return  # RFC 7162 3.1.3: with CONDSTORE a changed message is reported even when SILENT
    entry = view.entry(uid)
    items = [] if command.silent else [("FLAGS", flag_list(entry.flags, uid in view.recent))]
    if command.uid or session.condstore:
        items.append(("UID", b"%d" % uid))
    if session.condstore:
        items.append(("MODSEQ", b"(%d)" % entry.modseq))  # RFC 7162 3.2.4
    session.send(r.fetch_data(seq, items))


async def copy(session: IMAPSession, command: Copy) -> r.TaggedReply:
    view = view_of(session)
    target = await folder(session, command.mailbox)
    if target is None:
        return r.no(command.tag, r.TRYCREATE, "No such mailbox")
    requested = existing(session, resolve(session, command.tag, command.sequence_set, command.uid), command.uid)
    if command.name == "MOVE" and view.read_only:
        return r.no(command.tag, r.READ_ONLY, "Mailbox is read-only")
    # RFC 2180 4.4.1: a message another session expunged fails the whole command, nothing is copied
    # (RFC 9051 6.4.7), and the EXPUNGE responses follow. (Expunged in the instant between this look
    # and the copy, it is left out of the copy and of COPYUID.)
    if not command.uid and await expunged_since_told(session, requested):
        return r.no(command.tag, r.EXPUNGEISSUED, EXPUNGED)
    uids = [u for u in requested if u not in view.pending_expunges]
    operation = session.store.move if command.name == "MOVE" else session.store.copy
    try:
        pairs = await operation(view.id, uids, target.id)
    except QuotaExceeded:
        return r.no(command.tag, r.OVERQUOTA, "Quota exceeded")
    prefix = "UID " if command.uid else ""
    if not pairs:
        return r.ok(command.tag, f"{prefix}{command.name} completed")
    code = r.code_copyuid(target.uidvalidity, [s for s, _ in pairs], [d for _, d in pairs])
    if command.name == "MOVE":  # RFC 6851 4.3: COPYUID goes in an untagged OK before the expunges
        session.send(r.UntaggedReply("OK", "Moved", code).to_bytes())
        return r.ok(command.tag, f"{prefix}MOVE completed")
    return r.ok(command.tag, f"{prefix}COPY completed", code)


async def expunge(session: IMAPSession, command: Expunge) -> r.TaggedReply:
    view = view_of(session)
    if view.read_only:
        return r.no(command.tag, r.READ_ONLY, "Mailbox is read-only")
    await _expunge_deleted(session, command.uids if command.uid else None, command.tag)
    return r.ok(command.tag, f"{'UID ' if command.uid else ''}EXPUNGE completed")


async def _expunge_deleted(session: IMAPSession, only: SequenceSet | None, tag: str) -> None:
    view = view_of(session)
    candidates = resolve(session, tag, only, uid=True) if only is not None else view.live_uids()
    deleted = view.having(candidates, "\\Deleted")
    if deleted:
        await session.store.expunge(view.id, deleted)


async def close(session: IMAPSession, command: Command) -> r.TaggedReply:
    view = view_of(session)
    if not view.read_only and command.name == "CLOSE":
        await session.store.expunge(view.id, view.having(view.uids, "\\Deleted"))
    session.select(None)  # no untagged EXPUNGE: RFC 9051 6.4.1
    return r.ok(command.tag, f"{command.name} completed")


def charset_ok(charset: str | None) -> bool:
    return charset is None or charset.lower().replace("_", "-") in ("utf-8", "us-ascii", "ascii", "utf8")


async def search(session: IMAPSession, command: Search) -> r.TaggedReply:
    view = view_of(session)
    if not charset_ok(command.charset):
        return r.no(command.tag, r.code_badcharset(), "Unsupported charset")
    uids = await run_search(session.store, view, command.criteria, session.saved_search)
    numbers = uids if command.uid else [seq for seq, _ in view.numbered(uids)]
    returns = command.returns
    options = returns.options if returns is not None and returns.options else ("ALL",)
    modseq = None
    if any(isinstance(key, ModSeqKey) for key in walk(command.criteria)):
        session.enabled.add("CONDSTORE")  # RFC 7162 3.1.5: the highest MODSEQ of what is returned
        modseq = max((view.entry(u).modseq for u in _returned(options, uids)), default=None)
    if returns is not None and "SAVE" in returns.options:
        session.saved_search = _returned(returns.options, uids)
    if returns is None and not session.rev2:
        session.send(r.search_data(numbers, modseq))
    else:
        results = _esearch_results(options, numbers)
        if results and modseq is not None:
            results.append(("MODSEQ", modseq))  # RFC 7162 3.1.5 with RFC 4731
        if results or returns is None or returns.options != ("SAVE",):
            session.send(r.esearch_data(command.tag, command.uid, results))
    return r.ok(command.tag, f"{'UID ' if command.uid else ''}SEARCH completed")


def _returned(options: tuple[str, ...], uids: list[int]) -> list[int]:
    """The messages a result reports: with MIN and/or MAX but neither ALL nor COUNT, only those. They
    are what SAVE keeps (RFC 5182 2.4) and whose MODSEQ is the highest reported (RFC 4731 3.2)."""
    if uids and ("MIN" in options or "MAX" in options) and not ("ALL" in options or "COUNT" in options):
        chosen = {uids[0]} if "MIN" in options else set()
        return sorted(chosen | ({uids[-1]} if "MAX" in options else set()))
    return list(uids)


def _esearch_results(options: tuple[str, ...], numbers: list[int]) -> list[tuple[str, object]]:
    results: list[tuple[str, object]] = []
    if "MIN" in options and numbers:
        results.append(("MIN", min(numbers)))
    if "MAX" in options and numbers:
        results.append(("MAX", max(numbers)))
    if "ALL" in options:
        results.append(("ALL", numbers))
    if "COUNT" in options:
        results.append(("COUNT", len(numbers)))
    return results
