"""Selected-state commands (RFC 9051 6.4): FETCH, STORE, SEARCH, COPY, MOVE (6851), EXPUNGE,
UID EXPUNGE (4315), CLOSE, UNSELECT (3691), CHECK; with CONDSTORE/QRESYNC (RFC 7162): FETCH
CHANGEDSINCE and VANISHED, STORE UNCHANGEDSINCE and [MODIFIED], SEARCH MODSEQ; and "$" (RFC 5182)
wherever a sequence set is allowed.

Sequence sets resolve against the session's view (message numbers as this client knows them);
UID sets against its UIDs, where "*" is the highest UID in the view (6.4.8). A sequence number past
the view is a client error (BAD), and so is "*" in an empty mailbox once IMAP4rev2 is enabled (a
IMAP4rev1 client gets OK and nothing); a UID that does not exist is silently skipped.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING

from pillarbox.errors import ProtocolError, QuotaExceeded
from pillarbox.imap import esearch
from pillarbox.imap import response as r
from pillarbox.imap.commands.access import require
from pillarbox.imap.fetch import FetchOptions, fetch_responses, flag_list, sets_seen
from pillarbox.imap.parser.commands import Command, Copy, Expunge, Fetch, Search, SearchReturn, Sort, Store
from pillarbox.imap.parser.search_key import And, ModSeqKey
from pillarbox.imap.parser.sequence_set import SequenceSet
from pillarbox.imap.rights import flag_right, settable
from pillarbox.imap.search import search as run_search
from pillarbox.imap.search import walk
from pillarbox.imap.selected import SelectedMailbox
from pillarbox.store.api import FlagMode
from pillarbox.store.records import FlagChange, StoreFlagsResult

if TYPE_CHECKING:
    from pillarbox.imap.session import IMAPSession

_MODES: dict[str, FlagMode] = {"+": "add", "-": "remove", "": "replace"}
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
    if view.exists == 0 and numbers.uses_star():
        # RFC 9051 9 (seq-number): "*" in an empty mailbox is past the last message, BAD like any other
        # such number. IMAP4rev1 clients send "1:*" to an empty mailbox as a matter of course: OK, nothing.
        if session.rev2:
            raise ProtocolError(r.bad(tag, "No messages: * names none"))
        return []
    if numbers.highest_explicit() > view.exists:
        raise ProtocolError(r.bad(tag, "Invalid message sequence number"))
    return [view.uid_at(seq) for seq in numbers.iterate(view.exists)]


async def fetch(session: IMAPSession, command: Fetch) -> r.TaggedReply:
    view = view_of(session)
    uids = existing(session, resolve(session, command.tag, command.sequence_set, command.uid), command.uid)
    if command.modifiers.partial is not None:  # RFC 9394 3.3/3.4: the slice first, then CHANGEDSINCE
        uids = [uids[i] for i in esearch.partial_positions(command.modifiers.partial, len(uids))]
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
    if sets_seen(command.items) and not view.read_only and "s" in session.rights:  # RFC 4314 4
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
    flags = settable(command.flags, session.rights)  # RFC 4314 4: what the user may change, not a NO
    if command.flags and not flags:
        return r.no(command.tag, r.NOPERM, "Permission denied")
    requested = existing(session, resolve(session, command.tag, command.sequence_set, command.uid), command.uid)
    uids = [u for u in requested if u not in view.pending_expunges]
    if command.unchangedsince is not None:
        session.enabled.add("CONDSTORE")
    mode = _MODES[command.mode]
    if mode == "replace" and not set("stw") <= set(session.rights):
        result = await _replace_within_rights(session, uids, flags, command.unchangedsince)
    else:
        result = await session.store.store_flags(view.id, uids, mode, flags, command.unchangedsince)
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


async def _replace_within_rights(
    session: IMAPSession, uids: list[int], flags: list[str], unchangedsince: int | None
) -> StoreFlagsResult:
    """STORE FLAGS for a user who may change only some flags (RFC 4314 4): each message keeps the
    flags it may not change and gets the given ones; one store call per resulting set of flags."""
    view = view_of(session)
    groups: dict[frozenset[str], list[int]] = {}
    for uid in uids:
        kept = {flag for flag in view.entry(uid).flags if flag_right(flag) not in session.rights}
        groups.setdefault(frozenset(kept | set(flags)), []).append(uid)
    changed: list[FlagChange] = []
    modified: list[int] = []
    for new_flags, members in groups.items():
        result = await session.store.store_flags(view.id, members, "replace", new_flags, unchangedsince)
        changed.extend(result.changed)
        modified.extend(result.modified)
    return StoreFlagsResult(tuple(sorted(changed, key=lambda c: c.uid)), tuple(sorted(modified)))


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
    found = await require(session, command.tag, command.mailbox, "i")  # RFC 4314 4
    if isinstance(found, r.TaggedReply):
        return r.no(command.tag, r.TRYCREATE, "No such mailbox") if found.code == r.NONEXISTENT else found
    target = found.mailbox
    requested = existing(session, resolve(session, command.tag, command.sequence_set, command.uid), command.uid)
    if command.name == "MOVE" and view.read_only:
        return r.no(command.tag, r.READ_ONLY, "Mailbox is read-only")
    if command.name == "MOVE" and not {"t", "e"} <= set(session.rights):  # what STORE \Deleted + EXPUNGE take
        return r.no(command.tag, r.NOPERM, "Permission denied")
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
    if "e" not in session.rights:  # RFC 4314 4
        return r.no(command.tag, r.NOPERM, "Permission denied")
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
    if not view.read_only and command.name == "CLOSE" and "e" in session.rights:  # else no expunge (RFC 4314 4)
        await session.store.expunge(view.id, view.having(view.uids, "\\Deleted"))
    session.select(None)  # no untagged EXPUNGE: RFC 9051 6.4.1
    return r.ok(command.tag, f"{command.name} completed")


def reported_modseq(session: IMAPSession, view: SelectedMailbox, program: And, reported: list[int]) -> int | None:
    """RFC 7162 3.1.5: with a MODSEQ search key, the highest MODSEQ of the messages the result reports
    (RFC 4731 3.2); the search is CONDSTORE-enabling."""
    if not any(isinstance(key, ModSeqKey) for key in walk(program)):
        return None
    session.enabled.add("CONDSTORE")
    return max((view.entry(uid).modseq for uid in reported), default=None)


def charset_ok(charset: str | None) -> bool:
    return charset is None or charset.lower().replace("_", "-") in ("utf-8", "us-ascii", "ascii", "utf8")


async def search(session: IMAPSession, command: Search) -> r.TaggedReply:
    view = view_of(session)
    if not charset_ok(command.charset):
        return r.no(command.tag, r.code_badcharset(), "Unsupported charset")
    reused = session.updating.reused_tag(session, command)
    if reused is not None:
        return reused
    uids = await run_search(session.store, view, command.criteria, session.saved_search)
    numbers = uids if command.uid else [seq for seq, _ in view.numbered(uids)]
    answer(session, command, uids, numbers, ordered=False)
    return r.ok(command.tag, f"{'UID ' if command.uid else ''}SEARCH completed")


def answer(session: IMAPSession, command: Search | Sort, uids: list[int], numbers: list[int], ordered: bool) -> None:
    """The ESEARCH response of a SEARCH or SORT with RETURN (``imap.esearch``), SAVE and the MODSEQ of
    what it reports; without RETURN, SEARCH's SEARCH (ESEARCH in IMAP4rev2) or SORT's SORT."""
    view = view_of(session)
    returns = command.returns or SearchReturn(("ALL",))
    reported = esearch.reported_positions(returns, len(uids))
    program = command.criteria if isinstance(command, Search) else command.search
    modseq = reported_modseq(session, view, program, [uids[i] for i in reported])
    saved_before = session.saved_search
    if command.returns is not None and "SAVE" in command.returns.options:
        session.saved_search = sorted(uids[i] for i in reported)
    if command.returns is None and (isinstance(command, Sort) or not session.rev2):
        keyword = b"SORT" if isinstance(command, Sort) else b"SEARCH"
        session.send(r.search_data(numbers, modseq, keyword))
        return
    results: list[tuple[str, int | str]] = list(esearch.return_data(returns, numbers, ordered))
    if results and modseq is not None:
        results.append(("MODSEQ", modseq))  # RFC 7162 3.1.5 with RFC 4731
    if results or command.returns is None or command.returns.options != ("SAVE",):
        session.send(r.esearch_data(command.tag, command.uid, results))
    if command.returns is not None and "UPDATE" in command.returns.options:
        session.updating.start(session, command, uids, saved_before)
